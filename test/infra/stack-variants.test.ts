// Variants of the tenant program under mocks, each a full run with the example config plus
// overrides: phase 2 of the domain link, tenant-wide and legacy consent modes with a rotating
// client secret, an Azure-managed trial domain, adopting/merging an existing apex TXT record, HVE.
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { fakeGuid, type RecordedResource, unwrapSecrets } from '../../infra/mock-cloud.ts';
import { runExampleStack } from '../helpers/infra/stack-harness.ts';

const plain = (r: RecordedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
const dynamicKinds = (run: { byType(t: string): RecordedResource[] }) =>
  run
    .byType('pulumi-nodejs:dynamic:Resource')
    .map((r) => String(r.inputs.relaykit))
    .sort();

describe('phase 2: link after verification', () => {
  it('links the domain once every check is Verified and acsLinkDomain is true', async () => {
    const run = await runExampleStack({ acsLinkDomain: 'true' }, { domainVerified: true });
    const cs = plain(run.one('azure-native:communication:CommunicationService'));
    const domainId = `/subscriptions/2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-relaykit-fabrikam/providers/Microsoft.Communication/emailServices/acs-email-rk-fabrikam/domains/notify.fabrikam.com`;
    // The additive link resource links it (acs-link.ts); the service itself never owns the list.
    expect(cs.linkedDomains).toBeUndefined();
    const link = plain(run.one('pulumi-nodejs:dynamic:Resource', 'fabrikam-acs-link'));
    expect(link).toMatchObject({
      relaykit: 'domain-link',
      domainId,
      communicationServiceId: expect.stringMatching(/\/communicationServices\/acs-rk-fabrikam-[0-9a-f]{4}$/),
      tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90',
    });
    expect(run.values.acsLinkStatus).toBe('phase 2: verified and linked');
  });

  it('does not link while verification is pending, and says why', async () => {
    const run = await runExampleStack({ acsLinkDomain: 'true' }, { domainVerified: false });
    expect(plain(run.one('azure-native:communication:CommunicationService')).linkedDomains).toBeUndefined();
    expect(run.values.acsLinkStatus).toBe(
      'phase 2 waiting: not yet verified (Domain=NotStarted, SPF=NotStarted, DKIM=NotStarted, DKIM2=NotStarted); run `pulumi up` again later',
    );
  });
});

describe('tenant-wide consent with a rotating client secret', () => {
  it('declares and grants Mail.Send + Mail.ReadWrite and stores an expiring secret', async () => {
    const run = await runExampleStack({ mailboxScoping: 'tenant-wide', mailCredential: 'secret' });
    const app = plain(run.one('azuread:index/application:Application', 'fabrikam-mail-app'));
    expect(app.requiredResourceAccesses).toEqual([
      {
        resourceAppId: '00000003-0000-0000-c000-000000000000',
        resourceAccesses: [
          { id: 'b633e1c5-b582-4048-a93e-9f11b44c7e96', type: 'Role' },
          { id: 'e2a3a72e-5f79-4c64-b1b1-878b674786c9', type: 'Role' },
        ],
      },
    ]);
    const grants = run.byType('azuread:index/appRoleAssignment:AppRoleAssignment').map(plain);
    expect(grants.map((g) => g.appRoleId)).toEqual([
      'b633e1c5-b582-4048-a93e-9f11b44c7e96',
      'e2a3a72e-5f79-4c64-b1b1-878b674786c9',
    ]);
    expect(new Set(grants.map((g) => g.principalObjectId))).toEqual(
      new Set([run.values.mailAppServicePrincipalObjectId]),
    );
    // Issue 20 item 6: the grant is on Microsoft Graph's service principal — the object the lookup
    // by Graph's appId returned (the mock cloud answers it with fakeGuid('graph-service-principal')).
    expect(new Set(grants.map((g) => g.resourceObjectId))).toEqual(
      new Set([fakeGuid('graph-service-principal')]),
    );
    const graphLookup = run.cloud.calls.find(
      (c) => c.token === 'azuread:index/getServicePrincipal:getServicePrincipal',
    );
    expect(graphLookup?.inputs).toEqual({ clientId: '00000003-0000-0000-c000-000000000000' });
    expect(graphLookup?.provider).toMatch(/::pulumi:providers:azuread::fabrikam-azuread::/);

    // now = 2026-11-22; 90-day periods counted from the epoch: the current one runs 2026-09-04 to
    // 2026-12-03 (day 20700 = 230 * 90), and its secret expires 180 days after it began.
    const pw = plain(run.one('azuread:index/applicationPassword:ApplicationPassword'));
    expect(pw).toMatchObject({
      endDate: '2027-03-03T00:00:00Z',
      rotateWhenChanged: { rotationPeriod: '2026-09-04T00:00:00Z' },
      displayName: 'relaykit 2026-09-04',
    });
    expect(pw.applicationId).toMatch(/^\/applications\//);
    const secret = run.one('azure-native:keyvault:Secret');
    expect(secret.inputs.secretName).toBe('mail-app-client-secret');
    expect(plain(secret).properties.value).toBe('mock-client-secret-fabrikam-mail-secret-20260904');
    expect(await pulumi.isSecret(run.outputs.bundles)).toBe(true);
    const hq = JSON.parse(run.values.bundles.hq ?? '{}');
    expect(hq.files['config.yaml']).toContain('clientSecret: mail-app');
    expect(Object.keys(run.values.exchangeScripts)).not.toContain('rbac-for-applications.ps1');
  });

  it('legacy Application Access Policy mode grants tenant-wide and renders the policy script', async () => {
    const run = await runExampleStack({
      mailboxScoping: 'application-access-policy',
      senderGroup: 'relay-senders@fabrikam.com',
      largeMessages: 'false',
    });
    expect(
      run.byType('azuread:index/appRoleAssignment:AppRoleAssignment').map((r) => plain(r).appRoleId),
    ).toEqual(['b633e1c5-b582-4048-a93e-9f11b44c7e96']);
    expect(Object.keys(run.values.exchangeScripts).sort()).toEqual([
      'application-access-policy.ps1',
      'inbound-connector.ps1',
    ]);
  });
});

describe('Azure-managed trial domain', () => {
  const azureManaged = {
    acsDomainManagement: 'azure-managed',
    acsDomain: undefined,
    dnsZoneName: undefined,
    dnsZoneResourceGroup: undefined,
    acsDmarcPolicy: undefined,
  };
  it('needs no DNS, triggers nothing and links at once', async () => {
    const run = await runExampleStack(azureManaged);
    const domain = plain(run.one('azure-native:communication:Domain'));
    expect(domain).toMatchObject({ domainName: 'AzureManagedDomain', domainManagement: 'AzureManaged' });
    expect(run.byType('azure-native:dns:RecordSet')).toEqual([]);
    expect(dynamicKinds(run)).toEqual(['domain-link', 'provider-registration']);
    expect(run.values.acsSenderAddresses[0]).toMatch(/^scans@[0-9a-f-]{36}\.azurecomm\.net$/);
  });

  it('sends as the DoNotReply ACS created when the stack declares no sender, without managing it', async () => {
    const run = await runExampleStack({ ...azureManaged, acsSenderUsernames: undefined });
    expect(run.byType('azure-native:communication:SenderUsername')).toEqual([]);
    expect(run.values.acsSenderAddresses).toEqual([
      expect.stringMatching(/^DoNotReply@[0-9a-f-]{36}\.azurecomm\.net$/),
    ]);
  });
});

describe('existing apex TXT record', () => {
  const apex = {
    acsDomain: 'fabrikam.com',
    acsDmarcPolicy: undefined,
    dnsExistingApexTxt: JSON.stringify(['MS=ms12345678', 'v=spf1 include:spf.protection.outlook.com ~all']),
  };

  it('manual (default): never touches the apex TXT, tells what to publish, and does not trigger verification', async () => {
    const run = await runExampleStack({ ...apex, dnsApexTxt: 'manual' });
    const sets = run.byType('azure-native:dns:RecordSet').map(plain);
    expect(sets.map((s) => `${s.recordType} ${s.relativeRecordSetName}`).sort()).toEqual([
      'CNAME selector1-azurecomm-prod-net._domainkey',
      'CNAME selector2-azurecomm-prod-net._domainkey',
    ]);
    expect(dynamicKinds(run)).toEqual(['provider-registration']);
    expect(run.values.dnsNotes[0]).toBe(
      'the TXT record set at the domain is not managed here: publish these values yourself',
    );
    expect(run.values.dnsNotes[1]).toMatch(/ends with "~all"; ACS verifies SPF only with "-all"/);
  });

  it('adopt: imports the existing record set with exactly its current values', async () => {
    const run = await runExampleStack({ ...apex, dnsApexTxt: 'adopt' });
    const txt = run
      .byType('azure-native:dns:RecordSet')
      .find((r) => plain(r).recordType === 'TXT') as RecordedResource;
    expect(txt.importId).toBe(
      '/subscriptions/2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-dns-fabrikam/providers/Microsoft.Network/dnsZones/fabrikam.com/TXT/@',
    );
    expect(plain(txt).relativeRecordSetName).toBe('@');
    expect(plain(txt).txtRecords).toEqual([
      { value: ['MS=ms12345678'] },
      { value: ['v=spf1 include:spf.protection.outlook.com ~all'] },
    ]);
  });

  it('merge: keeps existing values, adds the verification TXT, keeps the SPF qualifier', async () => {
    const run = await runExampleStack({ ...apex, dnsApexTxt: 'merge' });
    const txt = run
      .byType('azure-native:dns:RecordSet')
      .find((r) => plain(r).recordType === 'TXT') as RecordedResource;
    expect(txt.importId).toMatch(/\/TXT\/@$/);
    expect(plain(txt).txtRecords).toEqual([
      { value: ['MS=ms12345678'] },
      { value: ['v=spf1 include:spf.protection.outlook.com ~all'] },
      { value: [expect.stringMatching(/^ms-domain-verification=/)] },
    ]);
    expect(dynamicKinds(run)).toEqual(['domain-verification', 'provider-registration']);
    expect(txt.options?.retainOnDelete).toBe(true);
  });
});

describe('HVE route', () => {
  it('generates a password, stores it in the vault, renders the account script and an smtp route', async () => {
    const run = await runExampleStack({ hveAccount: 'hve-scan@fabrikam.com', defaultRoute: 'hve' });
    expect(run.byType('random:index/randomPassword:RandomPassword')).toHaveLength(1);
    const secrets = run.byType('azure-native:keyvault:Secret').map((r) => r.inputs.secretName);
    expect(secrets.sort()).toEqual(['hve-password', 'mail-app-certificate']);
    expect(await pulumi.isSecret(run.outputs.hvePassword)).toBe(true);
    expect(run.values.exchangeScripts['hve-account.ps1']).toContain("$account = 'hve-scan@fabrikam.com'");
    const cfg = JSON.parse(run.values.bundles.hq ?? '{}').files['config.yaml'] as string;
    expect(cfg).toContain('defaultRoute: hve');
    expect(cfg).toContain('preset: hve');
    expect(cfg).toContain('secret: hve-password');
  });
});

// Issue 16 defect 6: rotating the appliance certificate used to add the new one and remove the old
// one in the same `up`, cutting off every site not yet re-bundled.
describe('credential rotation with overlap', () => {
  const applianceCreds = (run: { byType(t: string): RecordedResource[] }) =>
    run
      .byType('azuread:index/applicationCertificate:ApplicationCertificate')
      .map((r) => r.name)
      .filter((n) => n.startsWith('fabrikam-appliance'))
      .sort();

  it('keeps the previous appliance certificate registered during the grace period', async () => {
    const run = await runExampleStack(
      { applianceCertificateGeneration: '2', applianceCertificateRotatedAt: '2026-11-20' },
      { now: new Date('2026-11-22T00:00:00Z') },
    );
    expect(applianceCreds(run)).toEqual([
      'fabrikam-appliance-cert-credential',
      'fabrikam-appliance-g2-cert-credential',
    ]);
    // The bundles carry the new certificate; the old one still signs in until it is removed.
    const g2 = plain(
      run.one(
        'azuread:index/applicationCertificate:ApplicationCertificate',
        'fabrikam-appliance-g2-cert-credential',
      ),
    );
    const pem = JSON.parse(run.values.bundles.hq ?? '{}').files['appliance-identity.pem'] as string;
    expect(pem.startsWith(g2.value.trimEnd())).toBe(true);
    // Grace: credentialGraceDays 30 from 2026-11-20.
    expect(run.values.credentialExpiry.applianceCertificate).toEqual([
      { id: 'g2', state: 'current', expires: '2027-01-01T00:00:00Z' },
      { id: 'g1', state: 'previous', expires: '2027-01-01T00:00:00Z', retiresAfter: '2026-12-20T00:00:00Z' },
    ]);
  });

  it('removes the previous certificate once the grace period is over, or at once on an explicit retire', async () => {
    const over = await runExampleStack(
      { applianceCertificateGeneration: '2', applianceCertificateRotatedAt: '2026-11-20' },
      { now: new Date('2026-12-20T00:00:00Z') },
    );
    expect(applianceCreds(over)).toEqual(['fabrikam-appliance-g2-cert-credential']);
    const retired = await runExampleStack(
      {
        applianceCertificateGeneration: '2',
        applianceCertificateRotatedAt: '2026-11-20',
        applianceCertificateRetirePrevious: 'true',
      },
      { now: new Date('2026-11-22T00:00:00Z') },
    );
    expect(applianceCreds(retired)).toEqual(['fabrikam-appliance-g2-cert-credential']);
  });

  it("keeps last period's client secret next to the new one, and stores the new one in the vault", async () => {
    // 90-day periods: 2026-09-04 began six days before; the 2026-06-06 secret stays 30 days.
    const run = await runExampleStack(
      { mailboxScoping: 'tenant-wide', mailCredential: 'secret' },
      { now: new Date('2026-09-10T00:00:00Z') },
    );
    const pw = run.byType('azuread:index/applicationPassword:ApplicationPassword').map(plain);
    expect(pw.map((p) => [p.displayName, p.endDate])).toEqual([
      ['relaykit 2026-09-04', '2027-03-03T00:00:00Z'],
      ['relaykit 2026-06-06', '2026-12-03T00:00:00Z'],
    ]);
    expect(plain(run.one('azure-native:keyvault:Secret')).properties.value).toBe(
      'mock-client-secret-fabrikam-mail-secret-20260904',
    );
    expect(run.values.credentialExpiry.mailCredential).toEqual([
      { id: '2026-09-04', state: 'current', expires: '2027-03-03T00:00:00Z' },
      {
        id: '2026-06-06',
        state: 'previous',
        expires: '2026-12-03T00:00:00Z',
        retiresAfter: '2026-10-04T00:00:00Z',
      },
    ]);
  });
});
