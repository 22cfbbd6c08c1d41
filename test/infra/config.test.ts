// Stack config: parsing, defaults, every validation message naming its key, and Pulumi.yaml declaring
// exactly the keys config.ts reads (with matching secret flags and defaults).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  KNOWN_KEYS,
  parseTenantConfig,
  type RawConfig,
  SECRET_KEYS,
  StackConfigError,
} from '../../infra/config.ts';

const minimal: RawConfig = {
  customerCode: 'contoso',
  tenantId: '11111111-2222-4333-8444-555555555555',
  subscriptionId: '66666666-7777-4888-9999-000000000000',
  senderMailboxes: '["scanner@contoso.com"]',
  sites: '["hq"]',
  sitePublicIps: '["203.0.113.5"]',
  deviceNetworks: '["10.1.0.0/16"]',
  acsDomain: 'mail.contoso.com',
};

function problems(raw: RawConfig): string[] {
  try {
    parseTenantConfig(raw, 'test');
  } catch (err) {
    if (err instanceof StackConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('parseTenantConfig', () => {
  it('applies the documented defaults', () => {
    const cfg = parseTenantConfig(minimal, 'contoso');
    expect(cfg).toMatchObject({
      stack: 'contoso',
      customerName: 'contoso',
      location: 'westeurope',
      mail: {
        scoping: 'rbac-for-applications',
        largeMessages: false,
        maxSendSizeMB: 35,
        credential: 'certificate',
        secretLifetimeDays: 180,
        secretRotationDays: 90,
        certificateValidityDays: 365,
      },
      appliance: { defaultRoute: 'graph', certificateValidityDays: 365, smtpPort: 25 },
      acs: {
        enabled: true,
        management: 'customer-managed',
        dataLocation: 'Europe',
        senderUsernames: [],
        linkDomain: false,
        recordsPublished: false,
      },
      dns: { apexTxt: 'manual', existingApexTxt: [] },
      vault: { network: 'sites-only', softDeleteRetentionDays: 90 },
      exchange: { inboundConnector: 'none' },
      credentialGraceDays: 30,
      resourceLocks: true,
      tenantDomains: [],
    });
    expect(cfg.mail.certificateRotation).toEqual({ generation: 1, retirePrevious: false });
    expect(cfg.appliance.certificateRotation).toEqual({ generation: 1, retirePrevious: false });
  });

  // Issue 16 defect 1: ACS creates DoNotReply on every domain itself; the stack must never manage it.
  it('creates no donotreply sender by default and refuses one in any spelling', () => {
    expect(parseTenantConfig(minimal, 't').acs.senderUsernames).toEqual([]);
    for (const name of ['donotreply', 'DoNotReply', 'DONOTREPLY']) {
      expect(problems({ ...minimal, acsSenderUsernames: JSON.stringify(['alerts', name]) })).toEqual([
        `relaykit:acsSenderUsernames: "${name}" is the DoNotReply sender ACS creates on every domain itself; remove it (the stack sends as DoNotReply without managing it when the list is empty)`,
      ]);
    }
  });

  it('reports every problem at once, each naming its key', () => {
    expect(problems({})).toEqual([
      'relaykit:customerCode: is required (short client code such as fabrikam); set it with `pulumi config set customerCode <value>`',
      "relaykit:tenantId: is required (the client's Entra tenant ID); set it with `pulumi config set tenantId <value>`",
      "relaykit:subscriptionId: is required (the client's Azure subscription ID); set it with `pulumi config set subscriptionId <value>`",
      'relaykit:senderMailboxes: list at least one mailbox (or set senderGroup) to scope the mail app to',
      'relaykit:sites: list at least one site (one appliance bundle is produced per site)',
      'relaykit:deviceNetworks: list the networks the devices send from (e.g. 192.168.10.0/24); the appliance admits only them',
      'relaykit:acsDomain: is required for a customer-managed ACS domain (e.g. notify.contoso.com)',
      "relaykit:sitePublicIps: list the sites' public IPs (vaultNetwork sites-only lets only them reach the vault)",
    ]);
  });

  it.each([
    [
      { customerCode: 'Contoso!' },
      'relaykit:customerCode: must be 2-12 lower-case letters/digits starting with a letter (got "Contoso!")',
    ],
    [{ tenantId: 'contoso.onmicrosoft.com' }, 'relaykit:tenantId: must be a GUID'],
    [
      { mailboxScoping: 'open' },
      'relaykit:mailboxScoping: must be one of rbac-for-applications, application-access-policy, tenant-wide (got "open")',
    ],
    [{ largeMessages: 'yes' }, 'relaykit:largeMessages: must be true or false (got "yes")'],
    [{ maxSendSizeMB: '200' }, 'relaykit:maxSendSizeMB: must be a whole number from 1 to 150 (got "200")'],
    [
      { senderMailboxes: '["not-an-address"]' },
      'relaykit:senderMailboxes: "not-an-address" is not an e-mail address',
    ],
    [
      { senderMailboxes: 'scanner@contoso.com', senderGroup: 'relay@contoso.com' },
      'relaykit:senderMailboxes: must be a list of strings (YAML list in the stack file, or JSON text)',
    ],
    [
      { mailboxScoping: 'application-access-policy' },
      'relaykit:senderGroup: is required when mailboxScoping is application-access-policy (policies target a group)',
    ],
    [
      { secretRotationDays: '200' },
      'relaykit:secretRotationDays: must be less than secretLifetimeDays (180) so a new secret exists before the old one expires',
    ],
    [
      { sitePublicIps: '["2001:db8::1"]' },
      'relaykit:sitePublicIps: "2001:db8::1" is not an IPv4 address or CIDR range (/24 to /32)',
    ],
    [
      { sitePublicIps: '["203.0.113.0/16"]' },
      'relaykit:sitePublicIps: "203.0.113.0/16" is not an IPv4 address or CIDR range (/24 to /32)',
    ],
    [{ sites: '["hq","hq"]' }, 'relaykit:sites: site names must be unique'],
    [
      { acsDataLocation: 'Mars' },
      'relaykit:acsDataLocation: must be one of Africa, Asia Pacific, Australia, Brazil, Canada, Europe, France, Germany, India, Japan, Korea, Norway, Switzerland, UAE, UK, United States (got "Mars")',
    ],
    [
      { acsSmtpUsername: 'relay' },
      'relaykit:acsSmtpUsername: ACS SMTP AUTH uses the app client secret as password: set mailCredential to secret',
    ],
    [
      { acsDmarcPolicy: 'p=none' },
      'relaykit:acsDmarcPolicy: must be a DMARC record starting with "v=DMARC1;"',
    ],
    [{ dnsZoneName: 'contoso.com' }, 'relaykit:dnsZoneResourceGroup: is required when dnsZoneName is set'],
    [
      { dnsZoneName: 'contoso.net', dnsZoneResourceGroup: 'rg' },
      'relaykit:dnsZoneName: zone "contoso.net" does not contain acsDomain "mail.contoso.com"',
    ],
    [
      { dnsApexTxt: 'merge' },
      'relaykit:dnsExistingApexTxt: list the TXT values already published at the domain (dnsApexTxt is merge)',
    ],
    [
      { inboundConnector: 'certificate' },
      'relaykit:connectorCertificateName: is required when inboundConnector is certificate (the TLS certificate subject/SAN)',
    ],
    [{ defaultRoute: 'hve' }, 'relaykit:hveAccount: is required when defaultRoute is hve'],
    [
      { extraTags: '["owner"]' },
      'relaykit:extraTags: "owner" must look like key=value (no <>%&\\?/ in the key)',
    ],
    [
      { acsSenderUsernames: '["alerts","Alerts"]' },
      'relaykit:acsSenderUsernames: "Alerts" collides with "alerts" (sender names are compared ignoring case and punctuation)',
    ],
    [
      { acsSenderUsernames: '["scan.hq","scan-hq"]' },
      'relaykit:acsSenderUsernames: "scan-hq" collides with "scan.hq" (sender names are compared ignoring case and punctuation)',
    ],
    [
      { tenantDomains: '["contoso.com"]', senderMailboxes: '["scanner@contoso.net"]' },
      'relaykit:senderMailboxes: "scanner@contoso.net" is outside the tenant\'s domains (tenantDomains: contoso.com)',
    ],
    [
      { tenantDomains: '["contoso.com"]', hveAccount: 'hve@fabrikam.com' },
      'relaykit:hveAccount: "hve@fabrikam.com" is outside the tenant\'s domains (tenantDomains: contoso.com)',
    ],
    [
      { dnsApexTxt: 'merge', dnsExistingApexTxt: '["v=spf1 -all","ms-domain-verification=5b7e"]' },
      'relaykit:dnsExistingApexTxt: lists "ms-domain-verification=5b7e": mail.contoso.com is already claimed by another ACS Email service; remove that domain there (and its TXT value) or choose another acsDomain',
    ],
    [
      { dnsZoneName: 'mail.contoso.com', dnsZoneResourceGroup: 'rg', dnsApexTxt: 'create' },
      'relaykit:dnsApexTxt: create would replace the TXT record set at the zone apex mail.contoso.com (SPF, MS=…): use merge with dnsExistingApexTxt, or manual',
    ],
    [
      { mailCredential: 'secret', acsSmtpUsername: 'relay@contoso.com' },
      'relaykit:acsSmtpUsername: "relay@contoso.com" is not on acsDomain mail.contoso.com, the only domain this stack links',
    ],
    [
      { mailCredential: 'secret', acsSmtpUsername: 'relay@mail.contoso.com' },
      'relaykit:acsSmtpUsername: an e-mail address works only once its domain is linked: set it in phase 2 (acsLinkDomain true) or use a free-form name',
    ],
    [
      { mailCredential: 'secret', acsSmtpUsername: 'relay user' },
      'relaykit:acsSmtpUsername: "relay user" must be an e-mail address on acsDomain or 1-64 letters, digits, ".", "_" or "-"',
    ],
    [
      { applianceCertificateGeneration: '2' },
      'relaykit:applianceCertificateRotatedAt: is required once applianceCertificateGeneration is above 1: the day (YYYY-MM-DD) generation 2 was issued starts the grace period of the previous one',
    ],
    [
      { mailCertificateGeneration: '2', mailCertificateRotatedAt: '2026-02-30' },
      'relaykit:mailCertificateRotatedAt: must be a date written YYYY-MM-DD (got "2026-02-30")',
    ],
    [
      { mailCredential: 'secret', credentialGraceDays: '91' },
      'relaykit:credentialGraceDays: secretRotationDays (90) + credentialGraceDays (91) must not exceed secretLifetimeDays (180): the previous secret must stay valid while it is kept',
    ],
    [
      { diagnosticsWorkspaceId: 'my-workspace' },
      'relaykit:diagnosticsWorkspaceId: must be the ARM ID of a Log Analytics workspace',
    ],
    [
      { vaultSoftDeleteRetentionDays: '3' },
      'relaykit:vaultSoftDeleteRetentionDays: must be a whole number from 7 to 90 (got "3")',
    ],
  ])('rejects %o', (change, message) => {
    expect(problems({ ...minimal, ...change })).toEqual([message]);
  });

  it('accepts a grace period that ends exactly at the secret lifetime', () => {
    expect(problems({ ...minimal, mailCredential: 'secret', credentialGraceDays: '90' })).toEqual([]);
  });

  it('accepts a rotation in progress and an SMTP address on the linked domain', () => {
    const cfg = parseTenantConfig(
      {
        ...minimal,
        applianceCertificateGeneration: '3',
        applianceCertificateRotatedAt: '2026-11-20',
        mailCredential: 'secret',
        acsLinkDomain: 'true',
        acsSmtpUsername: 'relay@mail.contoso.com',
      },
      't',
    );
    expect(cfg.appliance.certificateRotation).toEqual({
      generation: 3,
      rotatedAt: '2026-11-20',
      retirePrevious: false,
    });
    expect(cfg.acs.smtpUsername).toBe('relay@mail.contoso.com');
  });

  it('accepts the example stack file', () => {
    const doc = parse(readFileSync('Pulumi.example.yaml', 'utf8')) as { config: Record<string, unknown> };
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config)) {
      raw[k.replace(/^relaykit:/, '')] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    const cfg = parseTenantConfig(raw, 'example');
    expect(cfg.customerCode).toBe('fabrikam');
    expect(cfg.extraTags).toEqual({ 'cost-center': 'it-ops' });
  });
});

describe('Pulumi.yaml', () => {
  const project = parse(readFileSync('Pulumi.yaml', 'utf8')) as {
    main: string;
    runtime: { options: { typescript: boolean } };
    config: Record<
      string,
      { type: string; description?: string; default?: unknown; secret?: boolean; items?: unknown }
    >;
  };

  it('runs infra/ with Node type stripping', () => {
    expect(project.main).toBe('infra/');
    expect(project.runtime.options.typescript).toBe(false);
  });

  it('declares every non-secret key config.ts reads, in order, each typed and described', () => {
    const declared = Object.keys(project.config).filter((k) => k.startsWith('relaykit:'));
    expect(declared).toEqual(KNOWN_KEYS.filter((k) => !SECRET_KEYS.includes(k)).map((k) => `relaykit:${k}`));
    for (const key of declared) {
      const decl = project.config[key] as (typeof project.config)[string];
      expect(['string', 'integer', 'boolean', 'array'], key).toContain(decl.type);
      expect(decl.description, key).toMatch(/\S{3}/);
      if (decl.type === 'array') expect(decl.items, key).toEqual({ type: 'string' });
    }
  });

  it('makes only the truly required keys mandatory (no default)', () => {
    const required = Object.entries(project.config)
      .filter(([k, d]) => k.startsWith('relaykit:') && d.default === undefined)
      .map(([k]) => k.replace(/^relaykit:/, ''));
    expect(required).toEqual(['customerCode', 'tenantId', 'subscriptionId', 'sites', 'deviceNetworks']);
    // Empty-string defaults mean "not set" to config.ts.
    const cfg = parseTenantConfig({ ...minimal, customerName: '', senderGroup: '', hveAccount: '' }, 't');
    expect(cfg.customerName).toBe('contoso');
    expect(cfg.mail.senderGroup).toBeUndefined();
    expect(cfg.exchange.hveAccount).toBeUndefined();
  });

  it('disables the default Azure providers so nothing can reach an ambient tenant', () => {
    expect(project.config['pulumi:disable-default-providers']).toEqual(['azure-native', 'azuread']);
  });

  it('explains each optional secret key instead of declaring it (Pulumi would make it mandatory)', () => {
    const text = readFileSync('Pulumi.yaml', 'utf8');
    for (const key of SECRET_KEYS) {
      expect(project.config[`relaykit:${key}`]).toBeUndefined();
      expect(text).toContain(`# relaykit:${key} (secret, optional) is deliberately not declared`);
      expect(text).toContain(`pulumi config set --secret ${key}`);
    }
  });

  it('declares the same defaults config.ts applies', () => {
    const cfg = parseTenantConfig(minimal, 't');
    const d = (k: string) => project.config[`relaykit:${k}`]?.default;
    expect(d('location')).toBe(cfg.location);
    expect(d('mailboxScoping')).toBe(cfg.mail.scoping);
    expect(d('largeMessages')).toBe(cfg.mail.largeMessages);
    expect(d('maxSendSizeMB')).toBe(cfg.mail.maxSendSizeMB);
    expect(d('mailCredential')).toBe(cfg.mail.credential);
    expect(d('secretLifetimeDays')).toBe(cfg.mail.secretLifetimeDays);
    expect(d('secretRotationDays')).toBe(cfg.mail.secretRotationDays);
    expect(d('certificateValidityDays')).toBe(cfg.mail.certificateValidityDays);
    expect(d('defaultRoute')).toBe(cfg.appliance.defaultRoute);
    expect(d('applianceCertificateValidityDays')).toBe(cfg.appliance.certificateValidityDays);
    expect(d('applianceSmtpPort')).toBe(cfg.appliance.smtpPort);
    expect(d('acsEnabled')).toBe(cfg.acs.enabled);
    expect(d('acsDomainManagement')).toBe(cfg.acs.management);
    expect(d('acsDataLocation')).toBe(cfg.acs.dataLocation);
    expect(d('acsSenderUsernames')).toEqual(cfg.acs.senderUsernames);
    expect(d('acsLinkDomain')).toBe(cfg.acs.linkDomain);
    expect(d('acsRecordsPublished')).toBe(cfg.acs.recordsPublished);
    expect(d('dnsApexTxt')).toBe(cfg.dns.apexTxt);
    expect(d('vaultNetwork')).toBe(cfg.vault.network);
    expect(d('vaultSoftDeleteRetentionDays')).toBe(cfg.vault.softDeleteRetentionDays);
    expect(d('inboundConnector')).toBe(cfg.exchange.inboundConnector);
    expect(d('credentialGraceDays')).toBe(cfg.credentialGraceDays);
    expect(d('mailCertificateGeneration')).toBe(cfg.mail.certificateRotation.generation);
    expect(d('applianceCertificateGeneration')).toBe(cfg.appliance.certificateRotation.generation);
    expect(d('mailCredentialRetirePrevious')).toBe(cfg.mail.certificateRotation.retirePrevious);
    expect(d('applianceCertificateRetirePrevious')).toBe(cfg.appliance.certificateRotation.retirePrevious);
    expect(d('resourceLocks')).toBe(cfg.resourceLocks);
    expect(d('tenantDomains')).toEqual(cfg.tenantDomains);
  });
});
