// `relaykit` keeps the appliance CLI's habits, checked on the real command (fleet/bin/relaykit.js
// spawned through the project's Node): --help and --version exit 0 on every command, a usage error
// exits 2 with one line and the usage, no stack trace; no pulumi on PATH → one line, exit 1.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'fleet/bin/relaykit.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const STACK = /^\s+at .+[(:]\d+/m;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function relaykit(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile(NODE, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const COMMANDS = [
  ['tenant', 'add'],
  ['tenant', 'list'],
  ['tenant', 'status'],
  ['tenant', 'rotate'],
  ['tenant', 'remove'],
  ['fleet', 'status'],
];

describe('relaykit', () => {
  it('--help, --version and an unknown option behave the same on every command', async () => {
    for (const path of COMMANDS) {
      const name = path.join(' ');
      const [help, version, bad] = await Promise.all([
        relaykit([...path, '--help']),
        relaykit([...path, '--version']),
        relaykit([...path, '--no-such-option']),
      ]);
      expect(help.status, name).toBe(0);
      expect(help.stdout, name).toMatch(new RegExp(`^usage: relaykit ${name} `));
      expect(help.stdout.replace(/\s+/g, ' '), name).toContain('--json');
      expect(version.stdout, name).toBe(`${VERSION}\n`);
      expect(bad.status, name).toBe(2);
      const lines = bad.stderr.trimEnd().split('\n');
      expect(lines[0], name).toBe("error: unknown option '--no-such-option'");
      expect(lines[1], name).toMatch(new RegExp(`^usage: relaykit ${name} `));
      expect(bad.stderr, name).not.toMatch(STACK);
    }
  }, 240_000);

  it('a bad client file is refused with the named keys, before pulumi is even looked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaykit-conv-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(
      file,
      'clients:\n  - name: Acme\n    tenantId: x\n    subscription: 2c4d6e8f-1a3b-4c5d-8e7f-000000000001\n    domains: [acme.example]\n    sites: []\n    colour: blue\n',
    );
    const r = await relaykit(['tenant', 'add', '--all', file], { PATH: '/nonexistent' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      [
        `${file}: 4 problems`,
        '  - clients[0].name: 2-12 lower-case letters/digits, starting with a letter',
        '  - clients[0].tenantId: a GUID (the Entra tenant ID)',
        '  - clients[0].sites: at least one site',
        '  - clients[0].colour: unknown key',
        '',
      ].join('\n'),
    );
  });

  it('without pulumi on PATH: one line saying so and how to install it, exit 1', async () => {
    // PATH holds only the directory of the project's node: no pulumi there.
    const r = await relaykit(['tenant', 'list'], { PATH: dirname(NODE), HOME: tmpdir() });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'relaykit: the pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/iac/download-install/: curl -fsSL https://get.pulumi.com | sh) or build it from Go modules with bash .ci/install/40-pulumi-cli.sh\n',
    );
  });

  it('tenant remove without --confirm is a usage error', async () => {
    const r = await relaykit(['tenant', 'remove', 'acme']);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: tenant remove destroys every resource of acme: repeat the name with --confirm acme',
    );
  });
});
