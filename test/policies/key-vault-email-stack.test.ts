// Key Vault, ACS Email and stack policies, mutate-one-field style with exact messages.
import { describe, expect, it } from 'vitest';
import { acsDataLocation, acsEntraOnly, userEngagementTrackingOff } from '../../policies/email.ts';
import { VAULT, vaultFirewall, vaultHardening } from '../../policies/key-vault.ts';
import { explicitTenantProviders, noBroadRoles, requiredTags } from '../../policies/stack.ts';
import { TENANT_PROVIDERS, violations } from '../helpers/infra/policy-harness.ts';

const vault = (props: Record<string, unknown> = {}) => ({
  resourceGroupName: 'rg',
  properties: {
    tenantId: 't',
    sku: { family: 'A', name: 'standard' },
    enableRbacAuthorization: true,
    enablePurgeProtection: true,
    enableSoftDelete: true,
    softDeleteRetentionInDays: 90,
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '203.0.113.10' }] },
    ...props,
  },
});

describe('key-vault-rbac-purge-protection-soft-delete', () => {
  it('accepts the hardened vault', async () => {
    expect(await violations(vaultHardening, VAULT, vault())).toEqual([]);
  });
  it.each([
    [
      { enableRbacAuthorization: false },
      'enableRbacAuthorization must be true (Azure RBAC, not access policies)',
    ],
    [
      { accessPolicies: [{ objectId: 'x' }] },
      'accessPolicies must be empty: access is granted with Azure RBAC only',
    ],
    [{ enablePurgeProtection: undefined }, 'enablePurgeProtection must be true'],
    [{ enableSoftDelete: false }, 'enableSoftDelete must not be false'],
    [{ softDeleteRetentionInDays: 7 }, 'softDeleteRetentionInDays is 7; the minimum is 90'],
  ])('flags %o', async (change, message) => {
    expect(await violations(vaultHardening, VAULT, vault(change))).toEqual([message]);
  });
  it('takes the minimum retention from config', async () => {
    expect(
      await violations(vaultHardening, VAULT, vault({ softDeleteRetentionInDays: 30 }), {
        config: { minSoftDeleteRetentionDays: 30 },
      }),
    ).toEqual([]);
  });
});

describe('key-vault-firewall-deny-by-default', () => {
  it('accepts Deny', async () => {
    expect(await violations(vaultFirewall, VAULT, vault())).toEqual([]);
  });
  it('flags Allow unless public vaults are allowed', async () => {
    const open = vault({ networkAcls: { defaultAction: 'Allow' } });
    expect(await violations(vaultFirewall, VAULT, open)).toEqual([
      "networkAcls.defaultAction is Allow; use Deny with the sites' IPs in ipRules",
    ]);
    expect(await violations(vaultFirewall, VAULT, open, { config: { allowPublicVault: true } })).toEqual([]);
  });
});

describe('ACS Email policies', () => {
  const D = 'azure-native:communication:Domain';
  const CS = 'azure-native:communication:CommunicationService';
  const ES = 'azure-native:communication:EmailService';
  it('engagement tracking must be Disabled', async () => {
    expect(await violations(userEngagementTrackingOff, D, { userEngagementTracking: 'Disabled' })).toEqual(
      [],
    );
    expect(await violations(userEngagementTrackingOff, D, { userEngagementTracking: 'Enabled' })).toEqual([
      'userEngagementTracking is Enabled; set it to Disabled',
    ]);
    expect(await violations(userEngagementTrackingOff, D, {})).toEqual([
      'userEngagementTracking is (unset); set it to Disabled',
    ]);
  });
  it('data location must be allowed', async () => {
    expect(await violations(acsDataLocation, ES, { dataLocation: 'Europe' })).toEqual([]);
    expect(await violations(acsDataLocation, CS, { dataLocation: 'United States' })).toEqual([
      'dataLocation United States is not allowed; allowed: Europe, France, Germany, Norway, Switzerland, UK',
    ]);
    expect(
      await violations(
        acsDataLocation,
        CS,
        { dataLocation: 'United States' },
        { config: { allowedDataLocations: ['United States'] } },
      ),
    ).toEqual([]);
  });
  it('local auth must be disabled', async () => {
    expect(await violations(acsEntraOnly, CS, { disableLocalAuth: true })).toEqual([]);
    expect(await violations(acsEntraOnly, CS, { disableLocalAuth: false })).toEqual([
      'disableLocalAuth must be true (access keys off, Entra auth only)',
    ]);
  });
});

describe('stack policies', () => {
  const tags = { 'relaykit-customer': 'fabrikam', 'relaykit-stack': 'prod', 'managed-by': 'pulumi-relaykit' };
  it('requires the tags', async () => {
    expect(await violations(requiredTags, VAULT, { ...vault(), tags })).toEqual([]);
    const { 'relaykit-stack': _s, ...partial } = tags;
    expect(await violations(requiredTags, VAULT, { ...vault(), tags: partial })).toEqual([
      'missing required tags: relaykit-stack',
    ]);
    expect(await violations(requiredTags, 'azure-native:dns:RecordSet', {})).toEqual([]);
  });
  it('requires the explicit tenant provider', async () => {
    expect(await violations(explicitTenantProviders, VAULT, vault())).toEqual([]);
    expect(await violations(explicitTenantProviders, VAULT, vault(), { provider: undefined })).toEqual([
      "uses the default azure-native provider; pass the tenant's explicit provider",
    ]);
    const dflt = { ...TENANT_PROVIDERS['azure-native'], name: 'default_3_28_0' } as NonNullable<
      (typeof TENANT_PROVIDERS)['azure-native']
    >;
    expect(await violations(explicitTenantProviders, VAULT, vault(), { provider: dflt })).toEqual([
      "uses the default azure-native provider; pass the tenant's explicit provider",
    ]);
    const unpinned = { ...dflt, name: 'fabrikam-azure-native', props: { tenantId: 't' } };
    expect(await violations(explicitTenantProviders, VAULT, vault(), { provider: unpinned })).toEqual([
      'provider fabrikam-azure-native does not pin subscriptionId',
    ]);
    expect(
      await violations(
        explicitTenantProviders,
        'tls:index/privateKey:PrivateKey',
        {},
        { provider: undefined },
      ),
    ).toEqual([]);
  });
  it('refuses broad roles', async () => {
    const RA = 'azure-native:authorization:RoleAssignment';
    const id = (g: string) => `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${g}`;
    expect(
      await violations(noBroadRoles, RA, { roleDefinitionId: id('4633458b-17de-408a-b874-0445c86b69e6') }),
    ).toEqual([]);
    expect(
      await violations(noBroadRoles, RA, { roleDefinitionId: id('b24988ac-6180-42a0-ab88-20f7382dd24c') }),
    ).toEqual(['assigns the broad built-in role Contributor; use a narrow role']);
  });
});
