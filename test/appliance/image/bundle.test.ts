// The images run the appliance bundled by esbuild (appliance/image/bundle.ts). This bundles the
// checkout and runs the result, so a dependency or a module that does not survive bundling fails
// here, in `npm test`, not only in the slow image test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, packagesOf } from '../../../appliance/image/bundle.ts';

const ROOT = join(import.meta.dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let out: string;
let packages: string[];
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'relaykit-bundle-'));
  packages = packagesOf(await bundle(out));
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(NODE, [join(out, 'relaykit-appliance.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH, ...env },
  });
}

describe('appliance bundle', () => {
  it('writes the CLI (executable), the first-boot command and the licence notices', () => {
    const files = readdirSync(out);
    expect(files).toEqual(
      expect.arrayContaining(['relaykit-appliance.mjs', 'firstboot.mjs', 'THIRD-PARTY-NOTICES.txt']),
    );
    expect(statSync(join(out, 'relaykit-appliance.mjs')).mode & 0o111).toBe(0o111);
    expect(
      readFileSync(join(out, 'relaykit-appliance.mjs'), 'utf8').startsWith('#!/usr/local/bin/node\n'),
    ).toBe(true);
    const notices = readFileSync(join(out, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    for (const dep of ['smtp-server', 'zod', 'pino']) expect(notices).toContain(`${dep}@`);
  });

  it('inlines runtime dependencies only, never a devDependency', () => {
    const names = packages.map((p) => p.replace(/^.*node_modules\//, ''));
    expect(names).toEqual(expect.arrayContaining(['smtp-server', 'yaml', 'zod']));
    const dev = Object.keys(pkg.devDependencies).filter((d) => names.includes(d));
    expect(dev).toEqual([]);
  });

  it('imports node:http through require only (an ES import of it makes Node 24 load its own undici)', () => {
    const esImports = readdirSync(out)
      .filter((f) => f.endsWith('.mjs'))
      .filter((f) => /(?:from|import)\s*["'](?:node:)?http["']/.test(readFileSync(join(out, f), 'utf8')));
    expect(esImports).toEqual([]);
  });

  it('runs as the CLI: --version, and a command that loads a config', () => {
    const v = run(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    const check = run(['check', '--schema-only', '--config', join(ROOT, 'appliance/config.example.yaml')]);
    expect(check.stderr).not.toMatch(/Dynamic require|ERR_MODULE_NOT_FOUND|is not defined/);
    expect(check.stdout).toMatch(/^ok: .*config\.example\.yaml is valid/);
    expect(check.status).toBe(0);
  });
});

describe('lazily loaded chunks of the bundle', () => {
  // The relay loads some modules on first use (a transport, the large-message scanner, mailsplit for
  // body measuring, the RFC 2047 decoder, selfsigned, Azure SDKs). A chunk that is missing or throws
  // while loading would only show when that first message comes: every one is imported here.
  it('exist, and each loads in a fresh Node', () => {
    const lazy = new Set<string>();
    for (const f of readdirSync(out).filter((n) => n.endsWith('.mjs'))) {
      for (const m of readFileSync(join(out, f), 'utf8').matchAll(/\bimport\(\s*"(\.\/[^"]+\.mjs)"\s*\)/g)) {
        lazy.add(m[1] as string);
      }
    }
    expect([...lazy].map((f) => f.replace(/-[A-Z0-9]{8}\.mjs$/, ''))).toEqual(
      expect.arrayContaining(['./app', './graph-transport', './graph-scan', './mime-text']),
    );
    const missing = [...lazy].filter((f) => !readdirSync(out).includes(f.slice(2)));
    expect(missing).toEqual([]);
    const load = spawnSync(
      NODE,
      [
        '--input-type=module',
        '-e',
        `for (const f of ${JSON.stringify([...lazy])}) await import(${JSON.stringify(`${out}/`)} + f.slice(2));`,
      ],
      { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } },
    );
    // The first lines of an error only: Node's report quotes the whole minified line that threw.
    const errors = load.stderr.split('\n').filter((l) => /error/i.test(l) && l.length < 400);
    expect({ status: load.status, errors }).toEqual({ status: 0, errors: [] });
  });
});
