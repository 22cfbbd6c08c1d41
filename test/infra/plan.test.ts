// `npm run plan` end to end: a child process runs infra/plan.ts over the example stack file with no
// Pulumi CLI and no cloud, prints the resource tree and writes scripts and bundles.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackFileConfig, stackNameOf } from '../../infra/plan.ts';

const run = promisify(execFile);
let out: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relaykit-plan-'));
  const res = await run(process.execPath, ['infra/plan.ts', 'Pulumi.example.yaml', dir], {
    env: { ...process.env, PULUMI_CONFIG: '' },
    timeout: 120_000,
  });
  out = res.stdout;
});

describe('npm run plan', () => {
  it('prints the type and name of every resource as a tree', () => {
    expect(out).toContain('relaykit plan for stack "example" (Fabrikam, Inc.)');
    for (const line of [
      'pulumi:providers:azure-native  fabrikam-azure-native',
      'relaykit:index:CustomerTenant  fabrikam',
      '  relaykit:index:MailApp  fabrikam-mail',
      '    azuread:index/application:Application  fabrikam-mail-app',
      '    azure-native:keyvault:Vault  fabrikam-kv-vault',
      '    azure-native:communication:CommunicationService  fabrikam-acs-acs',
      '    pulumi-nodejs:dynamic:Resource  fabrikam-acs-verify',
      '  azure-native:resources:ResourceGroup  fabrikam-rg',
    ]) {
      expect(out.split('\n')).toContain(line);
    }
    expect(out).toContain('42 registrations (37 resources, 5 components)');
  });

  it('writes the Exchange scripts, the verification table and one bundle per site', () => {
    expect(readdirSync(join(dir, 'exchange')).sort()).toEqual([
      'inbound-connector.ps1',
      'max-send-size.ps1',
      'rbac-for-applications.ps1',
    ]);
    expect(readdirSync(join(dir, 'bundles')).sort()).toEqual(['hq.json', 'warehouse.json']);
    const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
    expect(bundle).toMatchObject({
      kind: 'relaykit-appliance-bundle',
      version: 1,
      site: 'hq',
      tenant: 'fabrikam',
    });
    expect(statSync(join(dir, 'bundle.json')).mode & 0o777).toBe(0o600);
    const records = readFileSync(join(dir, 'acs-verification-records.txt'), 'utf8').split('\n');
    expect(records[0]).toMatch(
      /^PLACEHOLDER values from the mock cloud of npm run plan — do not publish them/,
    );
    expect(records[1]).toMatch(/^record\s+type\s+name/);
  });
});

// The check: a stack file this project has never seen (DNS at an outside host, certificate
// connector, secret credential, no sender names, an appliance certificate rotation in progress).
describe('npm run plan over an unseen stack file', () => {
  let text: string;
  let planDir: string;
  const today = new Date().toISOString().slice(0, 10);
  const TENANT_ID = '0b5e7a51-3c2d-4e6f-8a9b-1c2d3e4f5a6b';
  beforeAll(async () => {
    planDir = mkdtempSync(join(tmpdir(), 'relaykit-plan-contoso-'));
    const file = join(planDir, 'Pulumi.contoso.yaml');
    writeFileSync(
      file,
      [
        'config:',
        '  relaykit:customerCode: contoso',
        `  relaykit:tenantId: ${TENANT_ID}`,
        '  relaykit:subscriptionId: 7d6c5b4a-3f2e-4d1c-9b8a-7f6e5d4c3b2a',
        '  relaykit:tenantDomains: [contoso.com]',
        '  relaykit:senderMailboxes: [printers@contoso.com]',
        '  relaykit:mailCredential: secret',
        '  relaykit:sites: [plant1]',
        '  relaykit:sitePublicIps: [192.0.2.44]',
        '  relaykit:deviceNetworks: [10.20.0.0/16]',
        '  relaykit:acsDomain: mail.contoso.com',
        '  relaykit:inboundConnector: certificate',
        '  relaykit:connectorCertificateName: relay.contoso.com',
        '  relaykit:applianceCertificateGeneration: 2',
        `  relaykit:applianceCertificateRotatedAt: "${today}"`,
        '',
      ].join('\n'),
    );
    const res = await run(process.execPath, ['infra/plan.ts', file, join(planDir, 'out')], {
      env: { ...process.env, PULUMI_CONFIG: '' },
      timeout: 120_000,
    });
    text = res.stdout;
  });

  it('creates no donotreply sender and sends as the DoNotReply ACS provides', () => {
    expect(text).not.toMatch(/SenderUsername/);
    const bundle = JSON.parse(readFileSync(join(planDir, 'out', 'bundle.json'), 'utf8'));
    expect(bundle.files['config.yaml']).toContain('senderAddress: DoNotReply@mail.contoso.com');
  });

  it('renders scripts that check the tenant first, with connector switches that fit the type', () => {
    const scripts = readdirSync(join(planDir, 'out', 'exchange')).sort();
    expect(scripts).toEqual(['inbound-connector.ps1', 'rbac-for-applications.ps1']);
    for (const name of scripts) {
      const script = readFileSync(join(planDir, 'out', 'exchange', name), 'utf8');
      const check = script.indexOf(`$expectedTenantId = '${TENANT_ID}'`);
      expect(check, name).toBeGreaterThan(-1);
      expect(script.search(/\n\s*(New|Set|Remove)-/), name).toBeGreaterThan(check);
    }
    const connector = readFileSync(join(planDir, 'out', 'exchange', 'inbound-connector.ps1'), 'utf8');
    expect(connector).toContain(
      "-ConnectorType OnPremises -SenderDomains '*' -TlsSenderCertificateName 'relay.contoso.com'",
    );
    expect(connector).not.toMatch(
      /^[^#]*-(RequireTls|RestrictDomainsToIPAddresses|RestrictDomainsToCertificate)/m,
    );
  });

  it('keeps the old appliance certificate next to the new one', () => {
    expect(text.split('\n')).toEqual(
      expect.arrayContaining([
        '    azuread:index/applicationCertificate:ApplicationCertificate  contoso-appliance-cert-credential',
        '    azuread:index/applicationCertificate:ApplicationCertificate  contoso-appliance-g2-cert-credential',
      ]),
    );
    expect(text).toMatch(/credential applianceCertificate g2 \(current\): expires /);
    expect(text).toMatch(/credential applianceCertificate g1 \(previous\): expires .*, removed after /);
  });

  it('labels the verification values as placeholders', () => {
    expect(text).toContain('PLACEHOLDER values from the mock cloud of npm run plan — do not publish them');
  });
});

describe('stack file reading', () => {
  it('flattens values the way Pulumi hands them to a program and refuses encrypted ones', () => {
    expect(
      stackFileConfig('config:\n  relaykit:a: x\n  relaykit:b: [1, "two"]\n  relaykit:c: true\n', 'f'),
    ).toEqual({
      'relaykit:a': 'x',
      'relaykit:b': '[1,"two"]',
      'relaykit:c': 'true',
    });
    expect(() =>
      stackFileConfig('config:\n  relaykit:hvePassword:\n    secure: v1:abc\n', 'Pulumi.x.yaml'),
    ).toThrow(
      'Pulumi.x.yaml: relaykit:hvePassword is encrypted; npm run plan only reads plain example values',
    );
    expect(stackNameOf('/a/Pulumi.contoso.yaml')).toBe('contoso');
  });
});
