// The whole example stack (Pulumi.example.yaml) under mocks: which resources exist, their key
// properties, secrets kept secret, explicit providers, phase 1 of the domain link, DNS records.
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { containsSecret, fakeGuid, type RecordedResource, unwrapSecrets } from '../../infra/mock-cloud.ts';
import { runExampleStack, type StackRun } from '../helpers/infra/stack-harness.ts';

let run: StackRun;
const SUB = '2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f';
const TENANT = '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90';
const plain = (r: RecordedResource) => unwrapSecrets(r.inputs) as Record<string, any>;

beforeAll(async () => {
  run = await runExampleStack();
});

describe('example stack resources', () => {
  it('creates exactly the expected resources', () => {
    const counts: Record<string, number> = {};
    for (const r of run.cloud.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      'pulumi:providers:azure-native': 1,
      'pulumi:providers:azuread': 1,
      'relaykit:index:CustomerTenant': 1,
      'relaykit:index:MailApp': 1,
      'relaykit:index:ApplianceIdentity': 1,
      'relaykit:index:RelayVault': 1,
      'relaykit:index:AcsEmail': 1,
      'azure-native:resources:ResourceGroup': 1,
      'azuread:index/application:Application': 2,
      'azuread:index/servicePrincipal:ServicePrincipal': 2,
      'azuread:index/applicationCertificate:ApplicationCertificate': 2,
      'tls:index/privateKey:PrivateKey': 2,
      'tls:index/selfSignedCert:SelfSignedCert': 2,
      'azure-native:keyvault:Vault': 1,
      'azure-native:keyvault:Secret': 1,
      'azure-native:authorization:RoleAssignment': 2,
      'azure-native:authorization:RoleDefinition': 1,
      'azure-native:authorization:ManagementLockByScope': 5,
      'azure-native:monitor:DiagnosticSetting': 2,
      'azure-native:operationalinsights:Workspace': 1,
      'azure-native:communication:EmailService': 1,
      'azure-native:communication:Domain': 1,
      'azure-native:communication:SenderUsername': 2,
      'azure-native:communication:CommunicationService': 1,
      'azure-native:dns:RecordSet': 4,
      // provider registration + verification trigger (no link in phase 1)
      'pulumi-nodejs:dynamic:Resource': 2,
    });
  });

  it('gives the mail app no tenant-wide Graph grant in RBAC-for-Applications mode', () => {
    expect(run.byType('azuread:index/appRoleAssignment:AppRoleAssignment')).toEqual([]);
    expect(run.byType('azuread:index/applicationPassword:ApplicationPassword')).toEqual([]);
    const app = run.one('azuread:index/application:Application', 'fabrikam-mail-app');
    expect(plain(app).requiredResourceAccesses).toEqual([]);
    expect(plain(app).tags).toContain('relaykit-scoping:rbac-for-applications');
    expect(plain(app).signInAudience).toBe('AzureADMyOrg');
  });

  // Issue 20 item 6: the appliance app's audience, the vault's network access and the reader's identity.
  it('keeps the appliance app single-tenant and the vault reachable only through its firewall', () => {
    const appliance = plain(run.one('azuread:index/application:Application', 'fabrikam-appliance-app'));
    expect(appliance.signInAudience).toBe('AzureADMyOrg');
    expect(appliance.requiredResourceAccesses).toEqual([]);
    const vault = plain(run.one('azure-native:keyvault:Vault'));
    // Enabled only behind the Deny firewall below: the sites reach the vault over the internet.
    expect(vault.properties.publicNetworkAccess).toBe('Enabled');
    expect(vault.properties.networkAcls.defaultAction).toBe('Deny');
  });

  it('registers certificates on both apps, from generated keys', () => {
    for (const prefix of ['fabrikam-mail', 'fabrikam-appliance']) {
      const cert = plain(
        run.one('azuread:index/applicationCertificate:ApplicationCertificate', `${prefix}-cert-credential`),
      );
      expect(cert.type).toBe('AsymmetricX509Cert');
      expect(cert.value).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(cert.applicationId).toMatch(/^\/applications\//);
      const self = plain(run.one('tls:index/selfSignedCert:SelfSignedCert', `${prefix}-cert`));
      expect(self.validityPeriodHours).toBe(365 * 24);
      expect(self.allowedUses).toEqual(['digital_signature', 'client_auth']);
    }
  });

  it('builds a hardened Key Vault readable only by the appliance identity', () => {
    const vault = plain(run.one('azure-native:keyvault:Vault'));
    expect(vault.vaultName).toMatch(/^kv-rk-fabrikam-[0-9a-f]{4}$/);
    expect(vault.properties).toMatchObject({
      tenantId: TENANT,
      enableRbacAuthorization: true,
      enablePurgeProtection: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      networkAcls: {
        bypass: 'AzureServices',
        defaultAction: 'Deny',
        ipRules: [{ value: '203.0.113.10' }, { value: '198.51.100.24' }],
      },
    });
    const kvRole = plain(
      run.one('azure-native:authorization:RoleAssignment', 'fabrikam-kv-appliance-secrets-user'),
    );
    expect(kvRole.roleDefinitionId).toBe(
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6`,
    );
    expect(kvRole.principalType).toBe('ServicePrincipal');
    expect(kvRole.scope).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\/kv-rk-fabrikam-[0-9a-f]{4}$/);
    const applianceSp = run.cloud.resources.find((r) => r.name === 'fabrikam-appliance-sp');
    expect(applianceSp).toBeDefined();
    // The reader is the appliance identity's service principal, not the mail app's. The mock cloud
    // gives a service principal the object ID fakeGuid('service-principal:<logical name>').
    expect(kvRole.principalId).toBe(fakeGuid('service-principal:fabrikam-appliance-sp'));
    expect(kvRole.principalId).not.toBe(run.values.mailAppServicePrincipalObjectId);
    expect(
      run
        .byType('azure-native:authorization:RoleAssignment')
        .filter((r) => /\/vaults\//.test(plain(r).scope)),
    ).toHaveLength(1);
  });

  it('stores the mail app credential in the vault as a secret value', () => {
    const secret = run.one('azure-native:keyvault:Secret');
    expect(secret.inputs.secretName).toBe('mail-app-certificate');
    expect(containsSecret(secret.inputs.properties)).toBe(true);
    const props = plain(secret).properties;
    expect(props.contentType).toBe('application/x-pem-file');
    expect(props.value).toMatch(/-----BEGIN CERTIFICATE-----[\s\S]*-----BEGIN PRIVATE KEY-----/);
  });

  it('keeps the bundles and credentials secret in the outputs', async () => {
    expect(await pulumi.isSecret(run.outputs.bundles)).toBe(true);
    expect(await pulumi.isSecret(run.outputs.exchangeScripts)).toBe(false);
    expect(await pulumi.isSecret(run.outputs.keyVaultUri)).toBe(false);
  });

  it('sets up ACS Email: tracking off, data location, sender usernames, Entra-only, send role', () => {
    const es = plain(run.one('azure-native:communication:EmailService'));
    expect(es).toMatchObject({
      location: 'global',
      dataLocation: 'Europe',
      emailServiceName: 'acs-email-rk-fabrikam',
    });
    const domain = plain(run.one('azure-native:communication:Domain'));
    expect(domain).toMatchObject({
      domainName: 'notify.fabrikam.com',
      domainManagement: 'CustomerManaged',
      userEngagementTracking: 'Disabled',
    });
    const senders = run.byType('azure-native:communication:SenderUsername').map(plain);
    expect(senders.map((s) => [s.username, s.senderUsername, s.displayName, s.domainName])).toEqual([
      ['scans', 'scans', 'Fabrikam, Inc.', 'notify.fabrikam.com'],
      ['alerts', 'alerts', 'Fabrikam, Inc.', 'notify.fabrikam.com'],
    ]);
    const cs = plain(run.one('azure-native:communication:CommunicationService'));
    expect(cs).toMatchObject({ dataLocation: 'Europe', disableLocalAuth: true, location: 'global' });
    const role = plain(run.one('azure-native:authorization:RoleAssignment', 'fabrikam-acs-sender-role'));
    const definition = plain(run.one('azure-native:authorization:RoleDefinition'));
    expect(role.roleDefinitionId).toBe(
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${definition.roleDefinitionId}`,
    );
    expect(role.principalId).toBe(run.values.mailAppServicePrincipalObjectId);
    expect(role.scope).toMatch(/\/communicationServices\/acs-rk-fabrikam-[0-9a-f]{4}$/);
    expect(run.values.acsSenderAddresses).toEqual([
      'scans@notify.fabrikam.com',
      'alerts@notify.fabrikam.com',
    ]);
    expect(run.values.acsEndpoint).toMatch(
      /^https:\/\/acs-rk-fabrikam-[0-9a-f]{4}\.europe\.communication\.azure\.com$/,
    );
  });

  // Issue 16 defect 1: ACS creates DoNotReply itself; the stack must never own (and later delete) it.
  it('manages no DoNotReply sender', () => {
    const names = run.byType('azure-native:communication:SenderUsername').map((r) => plain(r).username);
    expect(names.map((n: string) => n.toLowerCase())).not.toContain('donotreply');
  });

  it('phase 1: the domain is not linked before verification', () => {
    const cs = plain(run.one('azure-native:communication:CommunicationService'));
    expect(cs.linkedDomains).toBeUndefined();
    expect(run.values.acsLinkStatus).toMatch(/^phase 1/);
    expect(
      run
        .byType('pulumi-nodejs:dynamic:Resource')
        .map((r) => r.inputs.relaykit)
        .sort(),
    ).toEqual(['domain-verification', 'provider-registration']);
  });

  // Issue 16 defect 2: linkedDomains as a property is recomputed every run and can unlink a live
  // domain (or drop domains linked outside the stack). The service must not own the list.
  it('leaves the Communication Service linked-domain list to the additive link resource', () => {
    const cs = run.one('azure-native:communication:CommunicationService');
    expect(plain(cs).linkedDomains).toBeUndefined();
    expect(cs.options?.ignoreChanges).toEqual(['linkedDomains']);
  });

  // Issue 16 defect 3: the TXT sets at the domain and at _dmarc hold the client's SPF and more.
  it('retains and locks the shared TXT record sets', () => {
    const txt = run.byType('azure-native:dns:RecordSet').filter((r) => plain(r).recordType === 'TXT');
    expect(txt.map((r) => [r.name, r.options?.retainOnDelete])).toEqual([
      ['fabrikam-acs-dmarc', true],
      ['fabrikam-acs-txt', true],
    ]);
    const locks = run.byType('azure-native:authorization:ManagementLockByScope').map((r) => r.name);
    expect(locks.sort()).toEqual([
      'fabrikam-acs-acs-lock',
      'fabrikam-acs-dmarc-lock',
      'fabrikam-acs-email-lock',
      'fabrikam-acs-txt-lock',
      'fabrikam-kv-vault-lock',
    ]);
    for (const lock of run.byType('azure-native:authorization:ManagementLockByScope').map(plain)) {
      expect(lock.level).toBe('CanNotDelete');
    }
  });

  // Issue 16 defect 7: a fresh subscription has Microsoft.Communication / KeyVault unregistered.
  it('registers the resource providers before the first Azure resource', () => {
    const reg = run.cloud.resources.find((r) => r.inputs.relaykit === 'provider-registration');
    expect(plain(reg as RecordedResource).namespaces).toEqual([
      'Microsoft.KeyVault',
      'Microsoft.Insights',
      'Microsoft.OperationalInsights',
      'Microsoft.Communication',
      'Microsoft.Network',
    ]);
    const rg = run.one('azure-native:resources:ResourceGroup');
    expect(rg.options?.dependencies).toContain(reg?.options?.urn);
    expect(run.values.resourceProviders).toHaveLength(5);
  });

  // Issue 16 defect 8: least-privilege sending role, secret expiry, no ARM token in the state.
  it('grants a custom sending role with exactly the documented actions, assignable in the group only', () => {
    const definition = plain(run.one('azure-native:authorization:RoleDefinition'));
    expect(definition.permissions).toEqual([
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read',
          'Microsoft.Communication/CommunicationServices/Write',
          'Microsoft.Communication/EmailServices/write',
        ],
        notActions: [],
        dataActions: [],
        notDataActions: [],
      },
    ]);
    expect(definition.assignableScopes).toEqual([
      `/subscriptions/${SUB}/resourceGroups/rg-relaykit-fabrikam`,
    ]);
    expect(definition.roleName).toBe('relaykit ACS sender (fabrikam)');
    const role = plain(run.one('azure-native:authorization:RoleAssignment', 'fabrikam-acs-sender-role'));
    expect(role.roleDefinitionId).not.toMatch(/09976791-48a7-449e-bb21-39d1a415f350$/);
  });

  it('gives every vault secret the expiry of the credential it holds', () => {
    const secret = plain(run.one('azure-native:keyvault:Secret'));
    // The mock certificate is issued 2026-01-01 for 365 days (mock-cloud.ts).
    expect(secret.properties.attributes).toEqual({
      enabled: true,
      expires: Date.parse('2027-01-01T00:00:00Z') / 1000,
    });
    expect(run.values.credentialExpiry).toEqual({
      mailCredential: [{ id: 'g1', state: 'current', expires: '2027-01-01T00:00:00Z' }],
      applianceCertificate: [{ id: 'g1', state: 'current', expires: '2027-01-01T00:00:00Z' }],
    });
  });

  it('sends the vault and Communication Service logs to the workspace', () => {
    const settings = run.byType('azure-native:monitor:DiagnosticSetting').map(plain);
    const ws = `/subscriptions/${SUB}/resourceGroups/rg-relaykit-fabrikam/providers/Microsoft.OperationalInsights/workspaces/`;
    expect(settings.map((d) => [d.resourceUri.split('/providers/')[1], d.logs])).toEqual([
      [
        expect.stringMatching(/^Microsoft\.Communication\/communicationServices\//),
        [{ categoryGroup: 'allLogs', enabled: true }],
      ],
      [expect.stringMatching(/^Microsoft\.KeyVault\/vaults\//), [{ categoryGroup: 'audit', enabled: true }]],
    ]);
    for (const d of settings) expect(d.workspaceId.startsWith(ws)).toBe(true);
  });

  it('creates the DNS records in the zone with zone-relative names', () => {
    const sets = run.byType('azure-native:dns:RecordSet').map(plain);
    const byName: Record<string, Record<string, any>> = Object.fromEntries(
      sets.map((s) => [`${s.recordType} ${s.relativeRecordSetName}`, s]),
    );
    expect(Object.keys(byName).sort()).toEqual([
      'CNAME selector1-azurecomm-prod-net._domainkey.notify',
      'CNAME selector2-azurecomm-prod-net._domainkey.notify',
      'TXT _dmarc.notify',
      'TXT notify',
    ]);
    for (const s of sets)
      expect(s).toMatchObject({ zoneName: 'fabrikam.com', resourceGroupName: 'rg-dns-fabrikam', ttl: 3600 });
    expect(byName['TXT notify']?.txtRecords).toEqual([
      { value: [expect.stringMatching(/^ms-domain-verification=[0-9a-f-]{36}$/)] },
      { value: ['v=spf1 include:spf.protection.outlook.com -all'] },
    ]);
    expect(byName['CNAME selector1-azurecomm-prod-net._domainkey.notify']?.cnameRecord).toEqual({
      cname: 'selector1-azurecomm-prod-net._domainkey.azurecomm.net',
    });
    expect(byName['TXT _dmarc.notify']?.txtRecords).toEqual([
      { value: ['v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@fabrikam.com'] },
    ]);
    // Created, not imported: dnsApexTxt is "create" for the new subdomain.
    expect(run.byType('azure-native:dns:RecordSet').every((r) => r.importId === undefined)).toBe(true);
  });

  it('triggers verification of every record after the DNS records exist', () => {
    const recorded = run.one('pulumi-nodejs:dynamic:Resource', 'fabrikam-acs-verify');
    const verify = plain(recorded);
    expect(verify.kinds).toEqual(['Domain', 'SPF', 'DKIM', 'DKIM2', 'DMARC']);
    expect(verify.domainId).toMatch(
      /\/emailServices\/acs-email-rk-fabrikam\/domains\/notify\.fabrikam\.com$/,
    );
    expect(verify.armEndpoint).toBe('https://management.azure.com');
    // Every record reads NotStarted: each is (re-)requested on this run.
    expect(verify.retryKinds).toEqual(['Domain', 'SPF', 'DKIM', 'DKIM2', 'DMARC']);
    const txtUrns = run.byType('azure-native:dns:RecordSet').map((r) => r.options?.urn);
    for (const urn of txtUrns) expect(recorded.options?.dependencies).toContain(urn);
    expect(run.values.acsVerificationStatus).toEqual([
      'Domain: NotStarted (last request: requested)',
      'SPF: NotStarted (last request: requested)',
      'DKIM: NotStarted (last request: requested)',
      'DKIM2: NotStarted (last request: requested)',
      'DMARC: NotStarted (last request: requested)',
    ]);
  });

  // Issue 16 defect 8: the ARM token used to be a (secret) input, so it was stored in the state.
  it('stores no ARM token: the dynamic providers fetch one at run time', () => {
    for (const r of run.byType('pulumi-nodejs:dynamic:Resource')) {
      const keys = Object.keys(plain(r));
      expect(keys.filter((k) => /token/i.test(k))).toEqual([]);
      expect(containsSecret(r.inputs)).toBe(false);
    }
    expect(run.cloud.calls.map((c) => c.token)).not.toContain('azure-native:authorization:getClientToken');
  });

  it('exports the verification table', () => {
    expect(run.values.acsVerificationTable.split('\n')[0]).toBe(
      `record  type   name${' '.repeat(44)}value${' '.repeat(58)}ttl`,
    );
    expect(run.values.acsVerificationRecords.map((r) => [r.kind, r.type, r.zoneRelativeName])).toEqual([
      ['Domain', 'TXT', 'notify'],
      ['SPF', 'TXT', 'notify'],
      ['DKIM', 'CNAME', 'selector1-azurecomm-prod-net._domainkey.notify'],
      ['DKIM2', 'CNAME', 'selector2-azurecomm-prod-net._domainkey.notify'],
      ['DMARC', 'TXT', '_dmarc.notify'],
    ]);
  });

  it('puts every Azure and Entra resource on the tenant explicit providers', () => {
    const providers = run.cloud.resources.filter((r) => r.type.startsWith('pulumi:providers:'));
    expect(
      plain(providers.find((p) => p.type === 'pulumi:providers:azure-native') as RecordedResource),
    ).toMatchObject({
      tenantId: TENANT,
      subscriptionId: SUB,
    });
    expect(
      plain(providers.find((p) => p.type === 'pulumi:providers:azuread') as RecordedResource),
    ).toMatchObject({
      tenantId: TENANT,
    });
    const cloudResources = run.cloud.resources.filter((r) => /^(azure-native|azuread):/.test(r.type));
    expect(cloudResources.length).toBeGreaterThan(15);
    for (const r of cloudResources) {
      const pkg = r.type.split(':')[0];
      expect(r.provider, r.name).toMatch(new RegExp(`::pulumi:providers:${pkg}::fabrikam-${pkg}::`));
    }
    // No invokes in RBAC-for-Applications mode (the Graph lookup is for tenant-wide grants only).
    expect(run.cloud.calls).toEqual([]);
  });

  it('tags every taggable Azure resource', () => {
    for (const type of [
      'azure-native:resources:ResourceGroup',
      'azure-native:keyvault:Vault',
      'azure-native:communication:EmailService',
      'azure-native:communication:Domain',
      'azure-native:communication:CommunicationService',
    ]) {
      expect(plain(run.one(type)).tags).toEqual({
        'cost-center': 'it-ops',
        'relaykit-customer': 'fabrikam',
        'relaykit-stack': 'example',
        'managed-by': 'pulumi-relaykit',
      });
    }
  });

  it('renders the Exchange scripts the configuration asks for', () => {
    expect(Object.keys(run.values.exchangeScripts).sort()).toEqual([
      'inbound-connector.ps1',
      'max-send-size.ps1',
      'rbac-for-applications.ps1',
    ]);
    const rbac = run.values.exchangeScripts['rbac-for-applications.ps1'] ?? '';
    expect(rbac).toContain(`$appId = '${run.values.mailAppClientId}'`);
    expect(rbac).toContain(`$spObjectId = '${run.values.mailAppServicePrincipalObjectId}'`);
  });

  it('produces one bundle per site, pointing at this tenant', () => {
    expect(Object.keys(run.values.bundles)).toEqual(['hq', 'warehouse']);
    const hq = JSON.parse(run.values.bundles.hq ?? '{}');
    expect(hq).toMatchObject({
      kind: 'relaykit-appliance-bundle',
      version: 1,
      site: 'hq',
      tenant: 'fabrikam',
    });
    expect(hq.files['appliance-identity.pem']).toMatch(/BEGIN CERTIFICATE[\s\S]+BEGIN PRIVATE KEY/);
    expect(hq.files['config.yaml']).toContain(`clientId: ${run.values.mailAppClientId}`);
    expect(hq.files['config.yaml']).toContain(`clientId: ${run.values.applianceClientId}`);
    expect(hq.files['config.yaml']).toContain('secret: mail-app-certificate');
  });
});
