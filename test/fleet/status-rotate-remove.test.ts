// `tenant list`, `tenant status`, `fleet status`, `tenant rotate` and `tenant remove` against the fake
// engine and a loopback stand-in of a site appliance's /status endpoint (bearer token checked).
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeOutputs } from './fake-engine.ts';
import { client, harness, NOW } from './harness.ts';

const TOKEN = 'monitor-token-1';
let server: Server;
let base = '';
/** A loopback port nothing listens on (a server opened and closed). */
let deadUrl = '';
/** What the stand-in site reports: the expiry of the appliance certificate its bundle holds. */
let reportedExpiry = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        overall: 'amber',
        problems: ['route graph degraded: 3 retries in the last 10m'],
        expiry: [{ key: 'credentials.appliance', expiresAt: reportedExpiry, daysLeft: 1, state: 'ok' }],
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const gone = createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  deadUrl = `http://127.0.0.1:${(gone.address() as { port: number }).port}/status`;
  await new Promise((r) => gone.close(r));
});
afterAll(() => server.close());

async function added(opts: Parameters<typeof harness>[0] = {}) {
  const h = harness(opts);
  const file = h.clientFile([
    client('acme', 1, {
      routes: ['graph', 'acs'],
      acsDomain: 'notify.acme.example',
      sites: [
        { name: 'hq', deviceNetworks: ['10.1.0.0/24'], statusUrl: `${base}/status` },
        { name: 'depot', deviceNetworks: ['10.2.0.0/24'], statusUrl: deadUrl },
      ],
    }),
    client('bolt', 2),
  ]);
  expect((await h.run(['tenant', 'add', '--all', file])).code).toBe(0);
  h.engine.ops.length = 0;
  return h;
}

describe('tenant list', () => {
  it('shows every stack with its last update, result, resource count and sites', async () => {
    const h = await added();
    const r = await h.run(['tenant', 'list']);
    expect(r.stdout).toBe(
      [
        'STACK  LAST UPDATE           RESULT     RESOURCES  SITES',
        'acme   2026-12-03T08:00:00Z  succeeded  40         hq,depot',
        'bolt   2026-12-03T08:00:00Z  succeeded  40         hq',
        '',
      ].join('\n'),
    );
    expect(h.engine.ops).toEqual(['listStacks']);
  });
});

describe('tenant status / fleet status', () => {
  it('reports expiry (warn within 30 days), ACS per record, drift and site health with the bearer token', async () => {
    const h = await added({
      drift: { acme: { same: 38, update: 2 } },
      acs: {
        acme: [
          'Domain: Verified',
          'SPF: Verified',
          'DKIM: VerificationFailed (last request: 200)',
          'DKIM2: NotStarted',
        ],
      },
    });
    const r = await h.run(['tenant', 'status', 'acme'], { RELAYKIT_MONITORING_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(h.engine.ops).toEqual(['outputs acme', 'previewRefresh acme']);
    // The fake issues generation 1 300 days before "now", valid 365 days: 65 days left.
    expect(r.stdout).toContain('mail        g1  current  2027-02-06T08:00:00.000Z  65    ok');
    expect(r.stdout).toContain('DKIM        VerificationFailed');
    expect(r.stdout).toContain('hq     amber        route graph degraded: 3 retries in the last 10m');
    expect(r.stdout).toMatch(/depot {2}unreachable {2}status endpoint did not answer \(ECONNREFUSED\)/);
    expect(r.stdout).toContain('warning: acme: drift 2 update');
    expect(r.stdout).toContain('warning: acme: ACS record DKIM2 is NotStarted');
  });

  it('without the token the site answers 401, which is reported, not hidden', async () => {
    const h = await added();
    const r = await h.run(['tenant', 'status', 'acme', '--json', '--no-drift']);
    const s = JSON.parse(r.stdout);
    expect(s.drift).toBe('not checked');
    expect(s.sites[0]).toEqual({
      site: 'hq',
      health: 'http-401',
      problems: ['status endpoint answered 401'],
      certificates: [],
    });
    expect(h.engine.ops).toEqual(['outputs acme']);
  });

  it('fleet status: one row per client and the warnings under the table', async () => {
    const h = await added({ drift: { bolt: { same: 39, delete: 1 } } });
    const r = await h.run(['fleet', 'status'], { RELAYKIT_MONITORING_TOKEN: TOKEN });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('CLIENT  CREDENTIALS  ACS           DRIFT     SITES');
    expect(lines[1]).toBe('acme    ok (65d)     4/4 verified  none      hq:amber depot:unreachable');
    expect(lines[2]).toBe('bolt    ok (65d)     -             1 delete  hq:no-url');
    expect(r.stdout).toContain('warning: bolt: drift 1 delete');
  });

  it('warns about a credential expiring within 30 days', async () => {
    const h = await added();
    // acme's credentials issued 340 days before the CLI's clock, valid 365: 25 days left.
    const acme = h.engine.stacks.get('acme');
    if (acme === undefined) throw new Error('acme was not added');
    acme.outputs = fakeOutputs(acme.config, NOW - 40 * 86_400_000);
    const r = await h.run(['fleet', 'status', '--no-drift']);
    expect(r.stdout.split('\n')[1]).toBe(
      'acme    WARN mail 25d, WARN appliance 25d  4/4 verified  not checked  hq:http-401 depot:unreachable',
    );
    expect(r.stdout).toContain(
      'warning: acme: mail credential g1 (current) expires 2026-12-28T08:00:00.000Z (25d)',
    );
  });
});

describe('tenant rotate', () => {
  it('raises the generations with overlap, re-bundles and tells which sites still run the old bundle', async () => {
    const h = await added();
    const before = h.engine.stacks.get('acme')!.outputs.credentialExpiry!.value as {
      applianceCertificate: { expires: string }[];
    };
    reportedExpiry = before.applianceCertificate[0]!.expires; // hq still runs the generation-1 bundle
    const r = await h.run(['tenant', 'rotate', 'acme'], { RELAYKIT_MONITORING_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(h.engine.ops).toEqual([
      'getConfig acme',
      'setConfig acme mailCertificateGeneration,mailCertificateRotatedAt,mailCredentialRetirePrevious,applianceCertificateGeneration,applianceCertificateRotatedAt,applianceCertificateRetirePrevious',
      'up acme',
    ]);
    const cfg = h.engine.stacks.get('acme')!.config;
    expect(cfg.mailCertificateGeneration).toEqual({ value: '2', secret: false });
    expect(cfg.mailCertificateRotatedAt).toEqual({ value: '2026-12-03', secret: false });
    expect(cfg.applianceCertificateRetirePrevious).toEqual({ value: 'false', secret: false });
    expect(r.stdout).toContain(
      'hq     bundles/hq.json     OLD bundle (works until 2027-02-06, credential g1)',
    );
    expect(r.stdout).toContain('depot  bundles/depot.json  unknown (not reachable)');
    const again = await h.run(['tenant', 'rotate', 'acme', '--only', 'appliance', '--json']);
    expect(JSON.parse(again.stdout).config).toEqual({
      applianceCertificateGeneration: '3',
      applianceCertificateRotatedAt: '2026-12-03',
      applianceCertificateRetirePrevious: 'false',
    });
  });
});

describe('tenant remove', () => {
  it('refuses without --confirm NAME (usage error, nothing touched)', async () => {
    const h = await added();
    const r = await h.run(['tenant', 'remove', 'acme', '--confirm', 'bolt']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: tenant remove destroys every resource of acme: repeat the name with --confirm acme',
    );
    expect(h.engine.ops).toEqual([]);
  });

  it('destroys and removes the stack, deletes the bundles, keeps the notes and says what is left', async () => {
    const h = await added();
    const r = await h.run(['tenant', 'remove', 'acme', '--confirm', 'acme']);
    expect(r.code).toBe(0);
    expect(h.engine.ops).toEqual(['destroy acme', 'removeStack acme']);
    expect(existsSync(join(h.out, 'acme/bundles'))).toBe(false);
    expect(existsSync(join(h.out, 'acme/exchange/mail-app-scope.ps1'))).toBe(true);
    expect(r.stdout).toContain('- DNS at the outside host of notify.acme.example');
    expect(r.stdout).toContain('- Site depot: wipe the appliance');
    expect((await h.run(['tenant', 'status', 'acme'])).stderr).toBe(
      'relaykit: no stack for client acme (tenant list shows them)\n',
    );
  });
});
