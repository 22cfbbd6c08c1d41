// Stack outputs → operator files, as `npm run plan` and
// `pulumi stack output --json --show-secrets | node infra/output-files.ts <dir>` write them.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputFiles } from '../../infra/output-files.ts';

const outputs = {
  exchangeScripts: { 'rbac-for-applications.ps1': '# rbac\n' },
  bundles: { hq: '{"site":"hq"}\n', warehouse: '{"site":"warehouse"}\n' },
  acsVerificationTable: 'record  type',
  keyVaultUri: 'https://kv.vault.azure.net/',
};

describe('outputFiles', () => {
  it('names the files, and keeps bundles owner-only', () => {
    expect(outputFiles(outputs)).toEqual({
      'exchange/rbac-for-applications.ps1': { content: '# rbac\n', mode: 0o644 },
      'bundles/hq.json': { content: '{"site":"hq"}\n', mode: 0o600 },
      'bundles/warehouse.json': { content: '{"site":"warehouse"}\n', mode: 0o600 },
      'bundle.json': { content: '{"site":"hq"}\n', mode: 0o600 },
      'acs-verification-records.txt': { content: 'record  type\n', mode: 0o644 },
    });
  });
  it('refuses hidden secrets and path tricks', () => {
    expect(() => outputFiles({ bundles: { hq: '[secret]' } })).toThrow(
      'stack output bundles is hidden: add --show-secrets',
    );
    expect(() => outputFiles({ bundles: { '../etc': '{}' } })).toThrow('unexpected site name ../etc');
    expect(() => outputFiles({ exchangeScripts: { '/tmp/x.ps1': '' } })).toThrow(
      'unexpected script name /tmp/x.ps1',
    );
  });
});

describe('node infra/output-files.ts <dir>', () => {
  it('writes the files from `pulumi stack output --json` on stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaykit-out-'));
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ['infra/output-files.ts', dir], (err, out) =>
        err ? reject(err) : resolve(out),
      );
      child.stdin?.end(JSON.stringify(outputs));
    });
    expect(stdout).toContain(`wrote ${join(dir, 'bundles/hq.json')}`);
    expect(readFileSync(join(dir, 'exchange/rbac-for-applications.ps1'), 'utf8')).toBe('# rbac\n');
    expect(statSync(join(dir, 'bundles/warehouse.json')).mode & 0o777).toBe(0o600);
  });
});
