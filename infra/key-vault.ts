// infra/ room: the relay's Key Vault — RBAC authorization (no access policies), purge protection,
// soft delete, a firewall that by default admits only the sites' public IPs, the relay's secrets, and
// "Key Vault Secrets User" for the appliance identity and nobody else, a delete lock and audit
// logs. Every secret carries the expiry of the credential it holds. Secrets are written through ARM
// (control plane), so the deployer needs no data-plane role.
import * as azure from '@pulumi/azure-native';
import * as pulumi from '@pulumi/pulumi';
import { roleDefinitionId } from './acs-email.ts';
import type { VaultNetwork } from './config-keys.ts';
import { deleteLock, diagnostics } from './guardrails.ts';

export const KEY_VAULT_SECRETS_USER_ROLE_ID = '4633458b-17de-408a-b874-0445c86b69e6';

/** Vault properties for the given settings; pure so tests can check them without Pulumi. */
export function vaultProperties(args: {
  tenantId: string;
  network: VaultNetwork;
  allowedIps: readonly string[];
  softDeleteRetentionDays: number;
}) {
  const sitesOnly = args.network === 'sites-only';
  return {
    tenantId: args.tenantId,
    sku: { family: 'A', name: 'standard' as const },
    enableRbacAuthorization: true,
    enablePurgeProtection: true,
    enableSoftDelete: true,
    softDeleteRetentionInDays: args.softDeleteRetentionDays,
    enabledForDeployment: false,
    enabledForDiskEncryption: false,
    enabledForTemplateDeployment: false,
    publicNetworkAccess: 'Enabled',
    networkAcls: {
      // AzureServices lets trusted Microsoft services (and ARM secret writes) through the firewall.
      bypass: 'AzureServices',
      defaultAction: sitesOnly ? 'Deny' : 'Allow',
      ipRules: sitesOnly ? args.allowedIps.map((value) => ({ value })) : [],
    },
  };
}

export interface RelayVaultArgs {
  resourceGroupName: pulumi.Input<string>;
  /** Globally unique vault name (naming.ts). */
  vaultName: string;
  location: string;
  tenantId: string;
  subscriptionId: string;
  /** sites-only: firewall denies all but allowedIps; public: open firewall (RBAC still applies). */
  network: VaultNetwork;
  allowedIps: readonly string[];
  softDeleteRetentionDays: number;
  /** Secrets to store, by Key Vault secret name, each with the RFC 3339 expiry of what it holds. */
  secrets: Record<string, VaultSecret>;
  /** Service principal object ID of the appliance identity: the only reader. */
  readerPrincipalId: pulumi.Input<string>;
  /** CanNotDelete lock on the vault. */
  lock: boolean;
  /** Log Analytics workspace for the vault's audit logs. */
  diagnosticsWorkspaceId: pulumi.Input<string>;
  tags: Record<string, string>;
}

export interface VaultSecret {
  value: pulumi.Input<string>;
  contentType: string;
  /** RFC 3339 end of validity; Key Vault stores it as the secret's `exp` attribute. */
  expires: pulumi.Input<string>;
}

/** Key Vault's `exp` attribute: seconds since the Unix epoch. */
export function expiresAttribute(rfc3339: string): number {
  const t = Date.parse(rfc3339);
  if (Number.isNaN(t)) throw new Error(`secret expiry "${rfc3339}" is not an RFC 3339 date`);
  return Math.floor(t / 1000);
}

export class RelayVault extends pulumi.ComponentResource {
  public readonly vaultId: pulumi.Output<string>;
  public readonly vaultName: pulumi.Output<string>;
  /** https://<name>.vault.azure.net/ */
  public readonly vaultUri: pulumi.Output<string>;
  public readonly secretNames: string[];

  constructor(name: string, args: RelayVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:index:RelayVault', name, {}, opts);
    const vault = new azure.keyvault.Vault(
      `${name}-vault`,
      {
        resourceGroupName: args.resourceGroupName,
        vaultName: args.vaultName,
        location: args.location,
        properties: vaultProperties(args),
        tags: args.tags,
      },
      { parent: this },
    );
    for (const [secretName, secret] of Object.entries(args.secrets)) {
      new azure.keyvault.Secret(
        `${name}-secret-${secretName}`,
        {
          resourceGroupName: args.resourceGroupName,
          vaultName: vault.name,
          secretName,
          properties: {
            value: pulumi.secret(secret.value),
            contentType: secret.contentType,
            attributes: { enabled: true, expires: pulumi.output(secret.expires).apply(expiresAttribute) },
          },
          tags: args.tags,
        },
        { parent: this },
      );
    }
    new azure.authorization.RoleAssignment(
      `${name}-appliance-secrets-user`,
      {
        principalId: args.readerPrincipalId,
        principalType: 'ServicePrincipal',
        roleDefinitionId: roleDefinitionId(args.subscriptionId, KEY_VAULT_SECRETS_USER_ROLE_ID),
        scope: vault.id,
        description: 'relaykit appliance reads its credentials',
      },
      { parent: this },
    );
    if (args.lock) deleteLock(`${name}-vault`, vault.id, 'the relay Key Vault', this);
    diagnostics(`${name}-vault`, vault.id, args.diagnosticsWorkspaceId, 'audit', this);
    this.vaultId = vault.id;
    this.vaultName = vault.name;
    this.vaultUri = vault.properties.apply((p) => p.vaultUri ?? '');
    this.secretNames = Object.keys(args.secrets);
    this.registerOutputs({ vaultId: this.vaultId, vaultUri: this.vaultUri });
  }
}
