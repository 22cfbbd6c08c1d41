// The images run the appliance bundled by esbuild (appliance/image/bundle.ts). This bundles the
// checkout and runs the result, so a dependency or a module that does not survive bundling fails
// here, in `npm test`, not only in the slow image test.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, packagesOf } from '../../../appliance/image/bundle.ts';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';

const ROOT = join(import.meta.dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let out: string;
let metafile: Metafile;
let packages: string[];
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'relaykit-bundle-'));
  metafile = await bundle(out);
  packages = packagesOf(metafile);
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
  // body measuring, the RFC 2047 decoder, undici, msal, Azure SDKs). A chunk that is missing or throws
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

describe('the start set: what `run` loads before its listeners are up', () => {
  /** Packages inlined into one output file of the bundle, e.g. "undici", "@azure/msal-node". */
  function packagesIn(file: string): string[] {
    const output = Object.entries(metafile.outputs).find(([o]) => basename(o) === file)?.[1];
    if (!output) throw new Error(`${file} is not an output of the bundle`);
    const names = new Set<string>();
    for (const input of Object.keys(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m?.[1]) names.add(m[1]);
    }
    return [...names];
  }

  // A capture route, the SMTP listener, status HTTP and the LAN admin page with a self-signed
  // certificate generated at this (first) start: the VM test's config, on loopback ports.
  it('with a capture-only config: no undici, no msal, no Azure SDK', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaykit-start-set-'));
    try {
      const hash = await hashPassword('correct horse battery', { N: 1024 });
      writeFileSync(
        join(dir, 'config.yaml'),
        [
          'listeners:',
          '  - { name: devices, address: 127.0.0.1, port: 0, auth: false }',
          'identities:',
          '  - { name: lan, networks: [127.0.0.0/8] }',
          'routes:',
          `  - { name: local, type: capture, directory: ${join(dir, 'outbox')} }`,
          'defaultRoute: local',
          `spool: { directory: ${join(dir, 'spool')} }`,
          'http: { address: 127.0.0.1, port: 0 }',
          'admin:',
          `  listener: { address: 127.0.0.1, port: 0, tls: { directory: ${join(dir, 'admin-tls')} } }`,
          `  users: [{ username: technician, passwordHash: "${hash}", role: admin }]`,
          '',
        ].join('\n'),
      );
      // Every module Node loads, as it loads it (module.registerHooks runs in this thread).
      const hooks = join(dir, 'record-loads.mjs');
      const loads = join(dir, 'loads.txt');
      writeFileSync(
        hooks,
        `import { registerHooks } from 'node:module'; import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(loads)}, url + '\\n'); return next(url, context); } });`,
      );
      writeFileSync(loads, '');
      const child = spawn(
        NODE,
        ['--import', hooks, join(out, 'relaykit-appliance.mjs'), 'run', '--config', join(dir, 'config.yaml')],
        { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = once(child, 'exit');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('appliance started')) resolve();
        });
        child.on('exit', () => reject(new Error(`the relay ended before it started:\n${stdout}\n${stderr}`)));
      });
      const loaded = readFileSync(loads, 'utf8')
        .split('\n')
        .filter((u) => u.startsWith('file:'))
        .map((u) => basename(new URL(u).pathname));
      child.kill('SIGTERM');
      await exited;
      // The self-signed certificate was made at this start (its fingerprint is on the console).
      expect(stderr).toMatch(/certificate's SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      expect(loaded).toContain('relaykit-appliance.mjs');
      expect(loaded.some((f) => f.startsWith('capture-transport-'))).toBe(true);
      const heavy = [
        'undici',
        '@azure/msal-node',
        '@azure/msal-common',
        'jsonwebtoken',
        '@azure/identity',
        '@azure/keyvault-secrets',
        '@azure/core-rest-pipeline',
        // prom-client's index (default metrics, histograms, Pushgateway): ops/metrics.ts needs 3 classes
        '@opentelemetry/api',
        'tdigest',
      ];
      const found = loaded.flatMap((f) =>
        packagesIn(f)
          .filter((p) => heavy.includes(p))
          .map((p) => `${p} in ${f}`),
      );
      expect(found).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
