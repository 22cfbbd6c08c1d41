// `check` proves what the config names, and `run` refuses on the same lines: every case below is a
// config that passes the schema but names something wrong, and `check` must exit 1 naming its key.
// Real files (openssl-made PKI), real environment variables, a real port held by another server.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { main } from '../../../appliance/src/main.ts';
import { baseConfigInput, removeDir, tempDir } from '../../helpers/appliance.ts';
import { captureIo } from '../../helpers/io.ts';
import { createTestPki, type TestPki } from '../../helpers/pki.ts';

let dir: string;
let pki: TestPki;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('relaykit-preflight-');
  pki = createTestPki();
});
afterAll(async () => {
  await removeDir(dir);
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Writes the config and runs `check`; returns exit code and stderr. */
async function check(patch: (c: ConfigInput) => ConfigInput, args: string[] = []) {
  const path = join(dir, `config-${++n}.yaml`);
  writeFileSync(path, stringify(patch(baseConfigInput(join(dir, `case-${n}`)))));
  const io = captureIo();
  const code = await main(['check', '--config', path, ...args], io);
  return { code, err: io.err(), out: io.out(), path };
}

const starttls =
  (cert: string, key: string) =>
  (c: ConfigInput): ConfigInput => ({
    ...c,
    listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, tls: { mode: 'starttls', cert, key } }],
  });

const graphRoute =
  (extra: Record<string, unknown> = {}) =>
  (c: ConfigInput): ConfigInput => ({
    ...c,
    routes: [
      ...(c.routes ?? []),
      {
        name: 'm365',
        type: 'graph',
        tenantId: '11111111-2222-3333-4444-555555555555',
        clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        clientSecret: 'graph-secret',
        ...extra,
      },
    ],
  });

describe('check: offline proofs, each naming its key', () => {
  it('passes a config whose files, credentials, directories and ports are all right', async () => {
    process.env.RELAYKIT_TEST_GOOD_SECRET = 's3cret';
    const r = await check((c) => ({
      ...graphRoute()(starttls(pki.server.certPath, pki.server.keyPath)(c)),
      credentials: { 'graph-secret': { env: 'RELAYKIT_TEST_GOOD_SECRET' } },
    }));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok: /);
  });

  const cases: [string, () => (c: ConfigInput) => ConfigInput, string, RegExp][] = [
    [
      'TLS certificate file missing',
      () => starttls(join(dir, 'nope.crt'), pki.server.keyPath),
      'listeners[0].tls.cert',
      /nope\.crt does not exist/,
    ],
    [
      'TLS key is not a key',
      () => starttls(pki.server.certPath, file('junk.key', 'not a key\n')),
      'listeners[0].tls.key',
      /no PEM private key/,
    ],
    [
      'certificate and key do not match',
      () => starttls(pki.server.certPath, pki.client.keyPath),
      'listeners[0].tls.cert',
      /does not match the private key in listeners\[0\]\.tls\.key/,
    ],
    [
      'CA bundle without a certificate',
      () => (c) => ({
        ...c,
        listeners: [
          {
            name: 'lan',
            address: '127.0.0.1',
            port: 0,
            tls: {
              mode: 'starttls',
              cert: pki.server.certPath,
              key: pki.server.keyPath,
              clientCertificates: { ca: file('empty-ca.pem', '# nothing here\n') },
            },
          },
        ],
      }),
      'listeners[0].tls.clientCertificates.ca',
      /holds no PEM certificate/,
    ],
    [
      'truncated password hash',
      () => (c) => ({
        ...c,
        identities: [{ name: 'mfp', users: [{ username: 'mfp', passwordHash: 'scrypt$32768$8$1$abc' }] }],
      }),
      'identities[0].users[0].passwordHash',
      /not a complete scrypt hash/,
    ],
    [
      'credential name typo in a route',
      () => (c) => ({
        ...graphRoute({ clientSecret: 'graph-secert' })(c),
        credentials: { 'graph-secret': { env: 'HOME' } },
      }),
      'routes[1].clientSecret',
      /no credential named "graph-secert" in credentials \(have: graph-secret\)/,
    ],
    [
      'environment variable not set',
      () => (c) => ({
        ...graphRoute()(c),
        credentials: { 'graph-secret': { env: 'RELAYKIT_TEST_UNSET_VARIABLE' } },
      }),
      'credentials.graph-secret.env',
      /environment variable RELAYKIT_TEST_UNSET_VARIABLE is not set/,
    ],
    [
      'environment variable empty',
      () => {
        process.env.RELAYKIT_TEST_EMPTY = '';
        return (c) => ({
          ...graphRoute()(c),
          credentials: { 'graph-secret': { env: 'RELAYKIT_TEST_EMPTY' } },
        });
      },
      'credentials.graph-secret.env',
      /is empty/,
    ],
    [
      'credential file missing',
      () => (c) => ({
        ...graphRoute()(c),
        credentials: { 'graph-secret': { file: join(dir, 'no-secret.txt') } },
      }),
      'credentials.graph-secret.file',
      /no-secret\.txt does not exist/,
    ],
    [
      'Key Vault reference without a keyVault section',
      () => (c) => ({
        ...graphRoute()(c),
        credentials: { 'graph-secret': { keyVault: { secret: 'graph' } } },
      }),
      'credentials.graph-secret.keyVault',
      /no keyVault section/,
    ],
    [
      'certificate credential whose key belongs to another certificate',
      () => (c) => ({
        ...graphRoute({ clientSecret: undefined, clientCertificate: 'app-cert' })(c),
        credentials: { 'app-cert': { file: file('mixed.pem', `${pki.server.cert}\n${pki.client.key}`) } },
      }),
      'credentials.app-cert',
      /\(used by routes\[1\]\.clientCertificate\) the certificate .* does not match the private key/,
    ],
    [
      'ACS connection string without an access key',
      () => (c) => ({
        ...c,
        routes: [
          ...(c.routes ?? []),
          {
            name: 'acs',
            type: 'acs',
            auth: { type: 'accessKey', connectionString: 'acs-key' },
            senderAddress: 'DoNotReply@contoso.com',
          },
        ],
        credentials: {
          'acs-key': { file: file('acs.txt', 'endpoint=https://x.communication.azure.com/\n') },
        },
      }),
      'credentials.acs-key',
      /\(used by routes\[1\]\.auth\.connectionString\) the ACS connection string must have the form/,
    ],
    [
      'spool directory below a regular file',
      () => (c) => ({ ...c, spool: { directory: join(file('plain-file', 'x'), 'spool') } }),
      'spool.directory',
      /plain-file is a file, not a directory/,
    ],
    [
      'spool file system with less free space than spool.minFreeSpace',
      () => (c) => ({ ...c, spool: { ...c.spool, minFreeSpace: '1000000GB' } }),
      'spool.directory',
      /MB free on the file system of .*, below spool\.minFreeSpace/,
    ],
    [
      'listener address not on this machine',
      () => (c) => ({ ...c, listeners: [{ name: 'lan', address: '192.0.2.77', port: 2525, auth: false }] }),
      'listeners[0].address',
      /192\.0\.2\.77 is not an address of this machine/,
    ],
  ];

  for (const [title, patch, key, message] of cases) {
    it(`${title} → exit 1 naming ${key}`, async () => {
      const r = await check(patch());
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^RELAY_CONFIG_REFERENCE: /);
      const line = r.err.split('\n').find((l) => l.startsWith(`  - ${key}: `));
      expect(line, r.err).toBeDefined();
      expect(line).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it('a port held by another process → listeners[0].port; run refuses with the same lines', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const r = await check((c) => ({
        ...c,
        listeners: [{ name: 'lan', address: '127.0.0.1', port, auth: false }],
      }));
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `  - listeners[0].port: 127.0.0.1:${port} is already in use by another process`,
      );
      const io = captureIo();
      expect(await main(['run', '--config', r.path], io)).toBe(1);
      expect(io.err()).toBe(r.err);
    } finally {
      holder.close();
    }
  });

  it('run refuses a missing certificate with the exact lines check prints (no stack trace)', async () => {
    const r = await check(starttls(join(dir, 'gone.crt'), join(dir, 'gone.key')));
    expect(r.code).toBe(1);
    const io = captureIo();
    expect(await main(['run', '--config', r.path], io)).toBe(1);
    expect(io.err()).toBe(r.err);
    expect(io.err()).toContain('  - listeners[0].tls.key: ');
  });

  it('an unreadable directory is refused even for root: a read-only mount', async (ctx) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI) throw new Error('this test mounts a read-only tmpfs and needs root');
      ctx.skip(true, 'needs root: the test mounts a read-only tmpfs (CI runs as root)');
    }
    const { execFileSync } = await import('node:child_process');
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o755);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    try {
      const r = await check((c) => ({
        ...c,
        routes: [{ name: 'local', type: 'capture', directory: join(ro, 'outbox') }],
      }));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        / {2}- routes\[0\]\.directory: .*outbox does not exist and cannot be created: .*ro is not writable \(EROFS\)/,
      );
    } finally {
      execFileSync('umount', [ro]);
    }
  });
});

describe('check: invalid notice, alert and syslog settings are refused with their key', () => {
  const schemaCases: [string, (c: ConfigInput) => ConfigInput, string][] = [
    [
      'unknown notice route',
      (c) => ({ ...c, notices: { route: 'nowhere', from: 'postmaster@contoso.com' } }),
      'notices.route',
    ],
    ['notice route without from', (c) => ({ ...c, notices: { route: 'local' } }), 'notices.from'],
    [
      'alert mail without a notice route',
      (c) => ({ ...c, notices: { alerts: { to: ['ops@msp.example'] } } }),
      'notices.alerts.to',
    ],
    [
      'webhook over plain http to another host',
      (c) => ({ ...c, notices: { alerts: { webhook: { url: 'http://alerts.example.net/hook' } } } }),
      'notices.alerts.webhook.url',
    ],
    [
      'webhook format unknown',
      (c) =>
        ({
          ...c,
          notices: { alerts: { webhook: { url: 'https://a.example/h', format: 'discord' } } },
        }) as unknown as ConfigInput,
      'notices.alerts.webhook.format',
    ],
    [
      'delayAfter without a unit',
      (c) => ({ ...c, notices: { dsn: { delayAfter: '4' } } }),
      'notices.dsn.delayAfter',
    ],
    ['syslog port 0', (c) => ({ ...c, syslog: { host: 'logs.example.net', port: 0 } }), 'syslog.port'],
    [
      'syslog transport udp',
      (c) => ({ ...c, syslog: { host: 'logs.example.net', transport: 'udp' } }) as unknown as ConfigInput,
      'syslog.transport',
    ],
  ];
  for (const [title, patch, key] of schemaCases) {
    it(`${title} → exit 1 naming ${key}`, async () => {
      const r = await check(patch);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^RELAY_CONFIG_INVALID: /);
      expect(r.err).toContain(`  - ${key}: `);
    });
  }
});
