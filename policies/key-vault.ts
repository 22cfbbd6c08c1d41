// policies/ room, Key Vault domain: the relay's vault uses Azure RBAC (no access policies), purge
// protection and soft delete with a minimum retention, and a firewall that denies by default.
import type { ResourceValidationPolicy } from '@pulumi/policy';

export const VAULT = 'azure-native:keyvault:Vault';

interface VaultProps {
  enableRbacAuthorization?: boolean;
  enablePurgeProtection?: boolean;
  enableSoftDelete?: boolean;
  softDeleteRetentionInDays?: number;
  accessPolicies?: unknown[];
  networkAcls?: { defaultAction?: string };
}

export const vaultHardening: ResourceValidationPolicy = {
  name: 'key-vault-rbac-purge-protection-soft-delete',
  description: 'Key Vaults use RBAC authorization, purge protection and soft delete.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      minSoftDeleteRetentionDays: {
        type: 'integer',
        default: 90,
        minimum: 7,
        maximum: 90,
        description: 'Shortest soft-delete retention accepted.',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== VAULT) return;
    const { minSoftDeleteRetentionDays } = args.getConfig<{ minSoftDeleteRetentionDays: number }>();
    const p = (args.props.properties ?? {}) as VaultProps;
    if (p.enableRbacAuthorization !== true)
      report('enableRbacAuthorization must be true (Azure RBAC, not access policies)');
    if ((p.accessPolicies ?? []).length > 0)
      report('accessPolicies must be empty: access is granted with Azure RBAC only');
    if (p.enablePurgeProtection !== true) report('enablePurgeProtection must be true');
    if (p.enableSoftDelete === false) report('enableSoftDelete must not be false');
    const retention = p.softDeleteRetentionInDays ?? 90;
    if (retention < minSoftDeleteRetentionDays) {
      report(`softDeleteRetentionInDays is ${retention}; the minimum is ${minSoftDeleteRetentionDays}`);
    }
  },
};

export const vaultFirewall: ResourceValidationPolicy = {
  name: 'key-vault-firewall-deny-by-default',
  description: 'Key Vault firewalls deny by default and admit only listed addresses.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      allowPublicVault: {
        type: 'boolean',
        default: false,
        description: 'Accept vaults whose firewall allows every network (RBAC still applies).',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== VAULT) return;
    const { allowPublicVault } = args.getConfig<{ allowPublicVault: boolean }>();
    if (allowPublicVault) return;
    const p = (args.props.properties ?? {}) as VaultProps;
    const action = p.networkAcls?.defaultAction;
    if (action !== 'Deny') {
      report(
        `networkAcls.defaultAction is ${action ?? '(unset, Allow)'}; use Deny with the sites' IPs in ipRules`,
      );
    }
  },
};

export const keyVaultPolicies = [vaultHardening, vaultFirewall];
