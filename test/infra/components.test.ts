// Each component on its own under mocks (no CustomerTenant around it), plus the real entry point
// infra/index.ts loaded the way the Pulumi language host loads it.
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  installMockCloud,
  MockCloud,
  outputValue,
  type RecordedResource,
  settle,
  unwrapSecrets,
} from '../../infra/mock-cloud.ts';
import { exampleConfig } from '../helpers/infra/stack-harness.ts';

const SUB = '2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f';
const TENANT = '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90';
let cloud: MockCloud;
let mod: {
  entra: typeof import('../../infra/entra-app.ts');
  vault: typeof import('../../infra/key-vault.ts');
  acs: typeof import('../../infra/acs-email.ts');
};
const plain = (r: RecordedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
const named = (name: string) => {
  const r = cloud.resources.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no resource ${name}`);
  return r;
};

beforeAll(async () => {
  cloud = new MockCloud({ subscriptionId: SUB, tenantId: TENANT });
  await installMockCloud(cloud, 'relaykit', 'components');
  pulumi.runtime.setAllConfig(exampleConfig(), ['relaykit:hvePassword']);
  mod = {
    entra: await import('../../infra/entra-app.ts'),
    vault: await import('../../infra/key-vault.ts'),
    acs: await import('../../infra/acs-email.ts'),
  };
});

describe('MailApp', () => {
  it('tenant-wide with a secret: grants, rotates and keeps the secret secret', async () => {
    const app = new mod.entra.MailApp('t1', {
      displayName: 'relaykit mail (t1)',
      scoping: 'tenant-wide',
      largeMessages: false,
      credential: 'secret',
      secretRotationDays: 30,
      secretLifetimeDays: 60,
      certificateValidityDays: 365,
      certificateRotation: { generation: 1, retirePrevious: false },
      graceDays: 10,
      now: new Date('2026-11-22T00:00:00Z'),
      customerCode: 't1',
    });
    expect(await pulumi.isSecret(app.credentialValue)).toBe(true);
    expect(await outputValue(app.credentialValue)).toBe('mock-client-secret-t1-secret-20261103');
    await settle(pulumi.runtime);
    expect(plain(named('t1-graph-mail-send'))).toMatchObject({
      appRoleId: 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
    });
    // 30-day periods: the current one began on day 20760 (2026-11-03); the secret lives 60 days.
    expect(plain(named('t1-secret-20261103')).endDate).toBe('2027-01-02T00:00:00Z');
  });

  it('certificate mode: PEM bundle of certificate and PKCS#8 key, secret', async () => {
    const app = new mod.entra.MailApp('t2', {
      displayName: 'relaykit mail (t2)',
      scoping: 'rbac-for-applications',
      largeMessages: true,
      credential: 'certificate',
      secretRotationDays: 90,
      secretLifetimeDays: 180,
      certificateValidityDays: 100,
      certificateRotation: { generation: 1, retirePrevious: false },
      graceDays: 30,
      now: new Date(),
      customerCode: 't2',
    });
    expect(await pulumi.isSecret(app.credentialValue)).toBe(true);
    expect(await outputValue(app.credentialValue)).toMatch(
      /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----\n$/,
    );
    await settle(pulumi.runtime);
    expect(plain(named('t2-cert'))).toMatchObject({ validityPeriodHours: 2400 });
    // Issue 16 defect 6: earlyRenewalHours made a refresh replace the certificate (and delete the old
    // registration) by itself; rotation is now an explicit generation bump with overlap.
    expect(plain(named('t2-cert'))).not.toHaveProperty('earlyRenewalHours');
    expect(plain(named('t2-key'))).toMatchObject({ algorithm: 'RSA', rsaBits: 3072 });
    expect(cloud.resources.some((r) => r.name.startsWith('t2-graph-'))).toBe(false);
  });
});

describe('ApplianceIdentity', () => {
  it('has no API permissions and a secret certificate bundle', async () => {
    const id = new mod.entra.ApplianceIdentity('ap', {
      displayName: 'relaykit appliance (ap)',
      certificateValidityDays: 365,
      certificateRotation: { generation: 1, retirePrevious: false },
      graceDays: 30,
      now: new Date('2026-11-22T00:00:00Z'),
      customerCode: 'ap',
    });
    expect(await pulumi.isSecret(id.pemBundle)).toBe(true);
    await settle(pulumi.runtime);
    expect(plain(named('ap-app')).requiredResourceAccesses).toEqual([]);
    expect(
      cloud.resources.filter((r) => r.name.startsWith('ap-') && r.type.includes('appRoleAssignment')),
    ).toEqual([]);
  });
});

describe('RelayVault', () => {
  it('public network mode opens the firewall but keeps RBAC and purge protection', async () => {
    const v = new mod.vault.RelayVault('pv', {
      resourceGroupName: 'rg',
      vaultName: 'kv-rk-pv-0000',
      location: 'westeurope',
      tenantId: TENANT,
      subscriptionId: SUB,
      network: 'public',
      allowedIps: ['203.0.113.1'],
      softDeleteRetentionDays: 30,
      secrets: { one: { value: 's3cret', contentType: 'text/plain', expires: '2027-01-02T00:00:00Z' } },
      readerPrincipalId: 'reader',
      lock: false,
      diagnosticsWorkspaceId: 'ws',
      tags: { a: 'b' },
    });
    expect(await outputValue(v.vaultUri)).toBe('https://kv-rk-pv-0000.vault.azure.net/');
    await settle(pulumi.runtime);
    expect(plain(named('pv-vault')).properties).toMatchObject({
      enableRbacAuthorization: true,
      enablePurgeProtection: true,
      softDeleteRetentionInDays: 30,
      networkAcls: { defaultAction: 'Allow', ipRules: [] },
    });
    expect(plain(named('pv-secret-one')).properties).toEqual({
      value: 's3cret',
      contentType: 'text/plain',
      // 2027-01-02T00:00:00Z in seconds since the epoch (Key Vault's `exp`).
      attributes: { enabled: true, expires: 1798848000 },
    });
    expect(cloud.resources.filter((r) => r.name === 'pv-vault-lock')).toEqual([]);
    expect(plain(named('pv-appliance-secrets-user'))).toMatchObject({
      principalId: 'reader',
      principalType: 'ServicePrincipal',
    });
  });
});

describe('AcsEmail', () => {
  it('creates an SMTP username for the mail app and triggers verification for hand-published records', async () => {
    const acs = new mod.acs.AcsEmail('sm', {
      resourceGroupName: 'rg',
      resourceGroupId: `/subscriptions/${SUB}/resourceGroups/rg`,
      customerCode: 'sm',
      locks: true,
      diagnosticsWorkspaceId: 'ws',
      emailServiceName: 'es-sm',
      communicationServiceName: 'cs-sm',
      dataLocation: 'UK',
      management: 'customer-managed',
      domain: 'mail.contoso.co.uk',
      senderUsernames: ['printer'],
      senderDisplayName: 'Contoso Printers',
      linkDomain: true,
      recordsPublished: true,
      senderPrincipalId: 'sp-object',
      entraApplicationId: 'app-client',
      subscriptionId: SUB,
      tenantId: TENANT,
      smtpUsername: 'relay@mail.contoso.co.uk',
      tags: {},
    });
    expect(await outputValue(acs.senderAddresses)).toEqual(['printer@mail.contoso.co.uk']);
    expect(await outputValue(acs.verificationTable)).toContain('mail.contoso.co.uk');
    await settle(pulumi.runtime);
    expect(plain(named('sm-smtp-username'))).toEqual({
      resourceGroupName: 'rg',
      communicationServiceName: 'cs-sm',
      smtpUsername: 'relay-mail-contoso-co-uk',
      username: 'relay@mail.contoso.co.uk',
      entraApplicationId: 'app-client',
      tenantId: TENANT,
    });
    expect(plain(named('sm-verify')).kinds).toEqual(['Domain', 'SPF', 'DKIM', 'DKIM2']);
    // The link waits for the verification request of this run.
    expect(named('sm-link').options?.dependencies).toContain(named('sm-verify').options?.urn);
    expect(
      cloud.resources.filter((r) => r.name.startsWith('sm-') && r.type === 'azure-native:dns:RecordSet'),
    ).toEqual([]);
  });
});

describe('infra/index.ts', () => {
  it('exports the stack outputs when loaded as the Pulumi entry point', async () => {
    const index = (await import('../../infra/index.ts')) as Record<string, unknown>;
    expect(Object.keys(index).sort()).toEqual([
      'acsEndpoint',
      'acsLinkStatus',
      'acsSenderAddresses',
      'acsVerificationRecords',
      'acsVerificationStatus',
      'acsVerificationTable',
      'applianceCertificateExpires',
      'applianceClientId',
      'bundles',
      'credentialExpiry',
      'dnsNotes',
      'exchangeScripts',
      'hvePassword',
      'keyVaultName',
      'keyVaultUri',
      'mailAppClientId',
      'mailAppServicePrincipalObjectId',
      'mailCredentialExpires',
      'resourceGroupName',
      'resourceProviders',
    ]);
    for (const v of Object.values(index)) expect(pulumi.Output.isInstance(v)).toBe(true);
    expect(await outputValue(index.keyVaultName as pulumi.Output<string>)).toMatch(
      /^kv-rk-fabrikam-[0-9a-f]{4}$/,
    );
  });
});
