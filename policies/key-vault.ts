// policies/ room, Key Vault domain: the relay's vault uses Azure RBAC (no access policies), purge
// protection and soft delete with a minimum retention, a firewall that denies by default and admits
// only the sites' addresses, public network access and trusted-service bypass stated explicitly,
// and secrets that expire.
import { isIP } from 'node:net';
import type { ResourceValidationPolicy } from '@pulumi/policy';

export const VAULT = 'azure-native:keyvault:Vault';
export const SECRET = 'azure-native:keyvault:Secret';

interface VaultProps {
  enableRbacAuthorization?: boolean;
  enablePurgeProtection?: boolean;
  enableSoftDelete?: boolean;
  softDeleteRetentionInDays?: number;
  accessPolicies?: unknown[];
  publicNetworkAccess?: string;
  networkAcls?: { defaultAction?: string; bypass?: string; ipRules?: Array<{ value?: string }> };
}

/** Prefix length of an IPv4 rule ("203.0.113.10" is /32); undefined when it is not IPv4. */
export function ipv4Prefix(rule: string): number | undefined {
  const [addr, bits, extra] = rule.trim().split('/');
  if (extra !== undefined || addr === undefined || isIP(addr) !== 4) return undefined;
  if (bits === undefined) return 32;
  return /^\d{1,2}$/.test(bits) && Number(bits) <= 32 ? Number(bits) : undefined;
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
      minIpRulePrefix: {
        type: 'integer',
        default: 24,
        minimum: 8,
        maximum: 32,
        description:
          'Shortest IPv4 prefix an ipRules entry may have (the sites are single addresses or small ranges).',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== VAULT) return;
    const { allowPublicVault, minIpRulePrefix } = args.getConfig<{
      allowPublicVault: boolean;
      minIpRulePrefix: number;
    }>();
    if (allowPublicVault) return;
    const p = (args.props.properties ?? {}) as VaultProps;
    const action = p.networkAcls?.defaultAction;
    if (action !== 'Deny') {
      report(
        `networkAcls.defaultAction is ${action ?? '(unset, Allow)'}; use Deny with the sites' IPs in ipRules`,
      );
      return;
    }
    const rules = (p.networkAcls?.ipRules ?? []).map((r) => String(r.value ?? ''));
    if (rules.length === 0) {
      report("networkAcls.ipRules is empty: no site can reach the vault; list the sites' public IPs");
    }
    for (const rule of rules) {
      const prefix = ipv4Prefix(rule);
      if (prefix === undefined) report(`networkAcls.ipRules entry "${rule}" is not an IPv4 address or range`);
      else if (prefix < minIpRulePrefix) {
        report(
          `networkAcls.ipRules entry "${rule}" admits ${2 ** (32 - prefix)} addresses (/${prefix}); list the sites' own addresses (/${minIpRulePrefix} or narrower)`,
        );
      }
    }
  },
};

export const vaultNetworkAccess: ResourceValidationPolicy = {
  name: 'key-vault-network-access-explicit',
  description:
    'Key Vaults state publicNetworkAccess and the firewall bypass explicitly; the trusted-services bypass only where allowed.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      allowTrustedServicesBypass: {
        type: 'boolean',
        default: true,
        description: 'Accept networkAcls.bypass AzureServices (lets ARM write secrets through the firewall).',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== VAULT) return;
    const { allowTrustedServicesBypass } = args.getConfig<{ allowTrustedServicesBypass: boolean }>();
    const p = (args.props.properties ?? {}) as VaultProps;
    if (p.publicNetworkAccess !== 'Enabled' && p.publicNetworkAccess !== 'Disabled') {
      report(
        `publicNetworkAccess is ${p.publicNetworkAccess ?? '(unset)'}; state Enabled (sites reach the vault through its firewall) or Disabled (private endpoint only)`,
      );
    }
    const bypass = p.networkAcls?.bypass;
    if (bypass !== 'None' && bypass !== 'AzureServices') {
      report(
        `networkAcls.bypass is ${bypass ?? '(unset, AzureServices)'}; state None, or AzureServices for ARM secret writes`,
      );
    } else if (bypass === 'AzureServices' && !allowTrustedServicesBypass) {
      report('networkAcls.bypass is AzureServices, which this pack does not allow; set it to None');
    }
  },
};

const DAY = 86_400_000;

export const secretsExpire: ResourceValidationPolicy = {
  name: 'key-vault-secrets-expire',
  description: 'Key Vault secrets carry an expiry (attributes.expires) no further ahead than a bound.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      maxSecretExpiryDays: {
        type: 'integer',
        default: 398,
        minimum: 1,
        description: 'Furthest a secret expiry may be ahead (the longest credential a secret holds).',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== SECRET) return;
    const { maxSecretExpiryDays } = args.getConfig<{ maxSecretExpiryDays: number }>();
    const expires = (args.props.properties as { attributes?: { expires?: unknown } } | undefined)?.attributes
      ?.expires;
    if (typeof expires !== 'number') {
      report(`secret has no expiry; set properties.attributes.expires to the end of the credential it holds`);
      return;
    }
    const days = Math.ceil((expires * 1000 - Date.now()) / DAY);
    if (days > maxSecretExpiryDays) {
      report(`secret expires in ${days} days; the maximum is ${maxSecretExpiryDays}`);
    }
  },
};

export const keyVaultPolicies = [vaultHardening, vaultFirewall, vaultNetworkAccess, secretsExpire];
