// Key Vault, ACS Email and stack policies, mutate-one-field style with exact messages.
import type { PolicyResource } from '@pulumi/policy';
import { describe, expect, it } from 'vitest';
import { acsDataLocation, acsEntraOnly, userEngagementTrackingOff } from '../../policies/email.ts';
import {
  SECRET,
  secretsExpire,
  VAULT,
  vaultFirewall,
  vaultHardening,
  vaultNetworkAccess,
} from '../../policies/key-vault.ts';
import { grantsOnResources, narrowCustomRoles, RA, RD } from '../../policies/roles.ts';
import {
  deleteLocks,
  diagnosticSettings,
  explicitTenantProviders,
  noBroadRoles,
  oneTenant,
  requiredTags,
} from '../../policies/stack.ts';
import {
  policyResource,
  stackViolations,
  TENANT_PROVIDERS,
  violations,
} from '../helpers/infra/policy-harness.ts';

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
  // Issue 20 item 5: Deny with a rule for the whole internet, or with no rule at all, passed.
  const deny = (ipRules: Array<{ value: string }>) =>
    vault({ networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules } });
  it('flags Deny that admits the whole internet', async () => {
    expect(await violations(vaultFirewall, VAULT, deny([{ value: '0.0.0.0/0' }]))).toEqual([
      `networkAcls.ipRules entry "0.0.0.0/0" admits 4294967296 addresses (/0); list the sites' own addresses (/24 or narrower)`,
    ]);
  });
  it('flags Deny with no rules (no site could reach the vault)', async () => {
    expect(await violations(vaultFirewall, VAULT, deny([]))).toEqual([
      "networkAcls.ipRules is empty: no site can reach the vault; list the sites' public IPs",
    ]);
  });
  it('accepts /24 and refuses /23 (the boundary), and refuses what is not IPv4', async () => {
    expect(await violations(vaultFirewall, VAULT, deny([{ value: '203.0.113.0/24' }]))).toEqual([]);
    expect(await violations(vaultFirewall, VAULT, deny([{ value: '203.0.112.0/23' }]))).toEqual([
      `networkAcls.ipRules entry "203.0.112.0/23" admits 512 addresses (/23); list the sites' own addresses (/24 or narrower)`,
    ]);
    expect(await violations(vaultFirewall, VAULT, deny([{ value: '2001:db8::/64' }]))).toEqual([
      'networkAcls.ipRules entry "2001:db8::/64" is not an IPv4 address or range',
    ]);
  });
});

describe('key-vault-network-access-explicit', () => {
  const ok = (over: Record<string, unknown> = {}) =>
    vault({
      publicNetworkAccess: 'Enabled',
      networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '203.0.113.10' }] },
      ...over,
    });
  it('accepts stated access and bypass', async () => {
    expect(await violations(vaultNetworkAccess, VAULT, ok())).toEqual([]);
  });
  it('flags unstated public network access', async () => {
    expect(await violations(vaultNetworkAccess, VAULT, ok({ publicNetworkAccess: undefined }))).toEqual([
      'publicNetworkAccess is (unset); state Enabled (sites reach the vault through its firewall) or Disabled (private endpoint only)',
    ]);
  });
  it('flags an unstated bypass, and AzureServices where the pack forbids it', async () => {
    expect(
      await violations(
        vaultNetworkAccess,
        VAULT,
        ok({ networkAcls: { defaultAction: 'Deny', ipRules: [] } }),
      ),
    ).toEqual([
      'networkAcls.bypass is (unset, AzureServices); state None, or AzureServices for ARM secret writes',
    ]);
    expect(
      await violations(vaultNetworkAccess, VAULT, ok(), { config: { allowTrustedServicesBypass: false } }),
    ).toEqual(['networkAcls.bypass is AzureServices, which this pack does not allow; set it to None']);
  });
});

describe('key-vault-secrets-expire', () => {
  const HOUR = 3600;
  const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;
  const secret = (attributes?: Record<string, unknown>) => ({
    secretName: 'mail-app-certificate',
    properties: {
      value: 'x',
      contentType: 'text/plain',
      ...(attributes === undefined ? {} : { attributes }),
    },
  });
  it('accepts an expiry within day 398 and refuses one in day 399', async () => {
    expect(
      await violations(secretsExpire, SECRET, secret({ expires: inSeconds(398 * 86400 - HOUR) })),
    ).toEqual([]);
    expect(
      await violations(secretsExpire, SECRET, secret({ expires: inSeconds(398 * 86400 + HOUR) })),
    ).toEqual(['secret expires in 399 days; the maximum is 398']);
  });
  it('refuses a secret without expiry', async () => {
    expect(await violations(secretsExpire, SECRET, secret())).toEqual([
      'secret has no expiry; set properties.attributes.expires to the end of the credential it holds',
    ]);
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
    const id = (g: string) => `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${g}`;
    expect(
      await violations(noBroadRoles, RA, { roleDefinitionId: id('4633458b-17de-408a-b874-0445c86b69e6') }),
    ).toEqual([]);
    expect(
      await violations(noBroadRoles, RA, { roleDefinitionId: id('b24988ac-6180-42a0-ab88-20f7382dd24c') }),
    ).toEqual([
      'assigns the broad built-in role Contributor; use Key Vault Secrets User for reading secrets or a custom role with only the needed actions',
    ]);
  });
  // Issue 20 item 5 / issue 16 item 9: Key Vault Administrator and friends passed.
  it.each([
    ['00482a5a-887f-4fb3-b363-3b7fe8e74483', 'Key Vault Administrator'],
    ['b86a8fe4-44ce-4948-aee5-eccb2c155cd7', 'Key Vault Secrets Officer'],
    ['8b54135c-b56d-4d72-a534-26097cfdc8d8', 'Key Vault Data Access Administrator'],
    ['f58310d9-a9f6-439a-9e8d-f62e7b41a168', 'Role Based Access Control Administrator'],
    ['09976791-48a7-449e-bb21-39d1a415f350', 'Communication and Email Service Owner'],
  ])('refuses %s (%s)', async (guid, role) => {
    const roleDefinitionId = `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
    expect(await violations(noBroadRoles, RA, { roleDefinitionId })).toEqual([
      `assigns the broad built-in role ${role}; use Key Vault Secrets User for reading secrets or a custom role with only the needed actions`,
    ]);
  });
});

describe('role-assignments-on-resources', () => {
  const VAULT_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv';
  it('accepts a grant on the vault and skips a scope not known yet (preview)', async () => {
    expect(await violations(grantsOnResources, RA, { scope: VAULT_ID })).toEqual([]);
    expect(await violations(grantsOnResources, RA, {})).toEqual([]);
  });
  it.each([
    ['/subscriptions/s', 'subscription'],
    ['/subscriptions/s/resourceGroups/rg', 'resource group'],
    ['/providers/Microsoft.Management/managementGroups/mg', 'management group'],
  ])('refuses %s', async (scope, kind) => {
    expect(await violations(grantsOnResources, RA, { scope })).toEqual([
      `assigns at ${kind} scope (${scope}); assign at the vault or Communication Service itself`,
    ]);
  });
});

describe('custom-roles-narrow', () => {
  const role = (over: Record<string, unknown> = {}) => ({
    scope: '/subscriptions/s/resourceGroups/rg',
    permissions: [{ actions: ['Microsoft.Communication/CommunicationServices/Read'] }],
    assignableScopes: ['/subscriptions/s/resourceGroups/rg'],
    ...over,
  });
  it('accepts named actions assignable in one group', async () => {
    expect(await violations(narrowCustomRoles, RD, role())).toEqual([]);
  });
  it('refuses wildcards', async () => {
    expect(
      await violations(
        narrowCustomRoles,
        RD,
        role({ permissions: [{ actions: ['Microsoft.Communication/*'] }] }),
      ),
    ).toEqual(['grants wildcard actions Microsoft.Communication/*; list the exact actions the relay needs']);
  });
  it('refuses a subscription-wide assignable scope', async () => {
    expect(await violations(narrowCustomRoles, RD, role({ assignableScopes: ['/subscriptions/s'] }))).toEqual(
      [
        "is assignable at subscription scope (/subscriptions/s); make it assignable in the stack's resource group only",
      ],
    );
  });
});

describe('stack-wide guardrails', () => {
  const TENANT = '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90';
  const vaultR = policyResource(
    VAULT,
    vault({ tenantId: TENANT }),
    'fabrikam-kv-vault',
    TENANT_PROVIDERS['azure-native'],
    {
      urn: 'urn:vault',
    },
  );
  const csR = policyResource(
    'azure-native:communication:CommunicationService',
    { disableLocalAuth: true },
    'fabrikam-acs-acs',
    TENANT_PROVIDERS['azure-native'],
    { urn: 'urn:cs' },
  );
  const lock = (on: PolicyResource, level = 'CanNotDelete') =>
    policyResource(
      'azure-native:authorization:ManagementLockByScope',
      { level },
      `${on.name}-lock`,
      undefined,
      {
        dependencies: [on],
      },
    );
  const diag = (on: PolicyResource, props: Record<string, unknown> = {}) =>
    policyResource(
      'azure-native:monitor:DiagnosticSetting',
      { workspaceId: '/subscriptions/s/ws', logs: [{ categoryGroup: 'audit', enabled: true }], ...props },
      `${on.name}-diagnostics`,
      undefined,
      { dependencies: [on] },
    );

  it('one tenant: accepts providers and vault on the same tenant, refuses a second one', async () => {
    expect(await stackViolations(oneTenant, [vaultR, csR])).toEqual([]);
    const other = policyResource('azuread:index/application:Application', {}, 'other-app', {
      ...(TENANT_PROVIDERS.azuread as NonNullable<(typeof TENANT_PROVIDERS)['azuread']>),
      name: 'other-azuread',
      props: { tenantId: '11111111-2222-4333-8444-555555555555' },
    });
    expect(await stackViolations(oneTenant, [vaultR, other])).toEqual([
      {
        message:
          'the stack spans several tenants: 8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90 (provider fabrikam-azure-native, fabrikam-kv-vault.properties.tenantId); 11111111-2222-4333-8444-555555555555 (provider other-azuread); one stack serves one client tenant, set tenantId once and use it everywhere',
      },
    ]);
    const vaultOther = policyResource(
      VAULT,
      vault({ tenantId: '11111111-2222-4333-8444-555555555555' }),
      'fabrikam-kv-vault',
      TENANT_PROVIDERS['azure-native'],
    );
    expect((await stackViolations(oneTenant, [vaultOther]))[0]?.message).toContain(
      '11111111-2222-4333-8444-555555555555 (fabrikam-kv-vault.properties.tenantId)',
    );
  });

  it('locks: accepts a locked vault, refuses an unlocked one and a lock of level NotSpecified', async () => {
    expect(await stackViolations(deleteLocks, [vaultR, lock(vaultR)])).toEqual([]);
    const message =
      'fabrikam-kv-vault (azure-native:keyvault:Vault) has no CanNotDelete lock; add an authorization.ManagementLockByScope scoped to it (config resourceLocks)';
    expect(await stackViolations(deleteLocks, [vaultR])).toEqual([{ message, urn: 'urn:vault' }]);
    expect(await stackViolations(deleteLocks, [vaultR, lock(vaultR, 'NotSpecified')])).toEqual([
      { message, urn: 'urn:vault' },
    ]);
    expect(await stackViolations(deleteLocks, [vaultR, lock(csR)])).toEqual([{ message, urn: 'urn:vault' }]);
  });

  it('diagnostics: accepts a setting with a sink and a log, refuses one without either', async () => {
    expect(await stackViolations(diagnosticSettings, [csR, diag(csR)])).toEqual([]);
    const message =
      'fabrikam-acs-acs (azure-native:communication:CommunicationService) has no diagnostic setting sending its logs anywhere; add a monitor.DiagnosticSetting with a workspace and an enabled log category group';
    expect(await stackViolations(diagnosticSettings, [csR])).toEqual([{ message, urn: 'urn:cs' }]);
    expect(await stackViolations(diagnosticSettings, [csR, diag(csR, { workspaceId: undefined })])).toEqual([
      { message, urn: 'urn:cs' },
    ]);
    expect(
      await stackViolations(diagnosticSettings, [
        csR,
        diag(csR, { logs: [{ categoryGroup: 'audit', enabled: false }] }),
      ]),
    ).toEqual([{ message, urn: 'urn:cs' }]);
  });
});
