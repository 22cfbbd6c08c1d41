// `npm run plan` end to end: a child process runs infra/plan.ts over the example stack file with no
// Pulumi CLI and no cloud, prints the resource tree and writes scripts and bundles.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
    expect(out).toContain('32 registrations (27 resources, 5 components)');
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
    expect(readFileSync(join(dir, 'acs-verification-records.txt'), 'utf8')).toMatch(/^record\s+type\s+name/);
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
