// `relaykit tenant add` against the fake engine: the exact stack operations, config values (secrets
// marked secret), files written and next steps; --all with bounded concurrency, resume and summary.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { client, harness } from './harness.ts';

describe('tenant add NAME --file', () => {
  it('creates the stack, sets the config, runs up, writes the folder and prints the next steps', async () => {
    const h = harness();
    const file = h.clientFile([
      client('acme', 1, {
        routes: ['graph', 'acs', 'hve'],
        acsDomain: 'notify.acme.example',
        hveAccount: 'hve@acme.example',
        hvePasswordEnv: 'ACME_HVE_PASSWORD',
        sites: [
          { name: 'hq', publicIp: '203.0.113.10', deviceNetworks: ['10.1.1.0/24', '10.1.2.0/24'] },
          { name: 'plant', deviceNetworks: ['10.2.0.0/16'] },
        ],
      }),
    ]);
    const r = await h.run(['tenant', 'add', 'acme', '--file', file], { ACME_HVE_PASSWORD: 'pw-from-env' });
    expect(r.stderr).toContain('acme: Updating (fake)');
    expect(r.code).toBe(0);
    expect(h.engine.ops).toEqual([
      'createStack acme',
      'setConfig acme customerCode,customerName,tenantId,subscriptionId,tenantDomains,senderMailboxes,sites,sitePublicIps,deviceNetworks,defaultRoute,acsEnabled,acsDomain,hveAccount,hvePassword',
      'up acme',
    ]);
    const cfg = h.engine.stacks.get('acme')?.config;
    expect(cfg).toEqual({
      customerCode: { value: 'acme', secret: false },
      customerName: { value: 'Client acme', secret: false },
      tenantId: { value: '8f0e3c52-6a1b-4d2e-9c47-000000000001', secret: false },
      subscriptionId: { value: '2c4d6e8f-1a3b-4c5d-8e7f-000000000001', secret: false },
      tenantDomains: { value: '["acme.example"]', secret: false },
      senderMailboxes: { value: '["scanner@acme.example"]', secret: false },
      sites: { value: '["hq","plant"]', secret: false },
      sitePublicIps: { value: '["203.0.113.10"]', secret: false },
      deviceNetworks: { value: '["10.1.1.0/24","10.1.2.0/24","10.2.0.0/16"]', secret: false },
      defaultRoute: { value: 'graph', secret: false },
      acsEnabled: { value: 'true', secret: false },
      acsDomain: { value: 'notify.acme.example', secret: false },
      hveAccount: { value: 'hve@acme.example', secret: false },
      hvePassword: { value: 'pw-from-env', secret: true },
    });
    const dir = join(h.out, 'acme');
    expect(readdirSync(dir, { recursive: true }).map(String).sort()).toEqual([
      'NEXT-STEPS.txt',
      'acs-verification-records.txt',
      'bundle.json',
      'bundles',
      'bundles/hq.json',
      'bundles/plant.json',
      'client.json',
      'exchange',
      'exchange/mail-app-scope.ps1',
    ]);
    expect(statSync(join(dir, 'bundles/hq.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'bundles/plant.json'), 'utf8'))).toMatchObject({
      site: 'plant',
    });
    expect(readFileSync(join(dir, 'client.json'), 'utf8')).not.toContain('pw-from-env');
    expect(r.stdout).toContain(`added acme (stack acme); wrote 7 files to ${dir}`);
    expect(r.stdout).toContain(
      `1. Exchange Administrator of tenant 8f0e3c52-6a1b-4d2e-9c47-000000000001 runs ${dir}/exchange/mail-app-scope.ps1 in PowerShell (Connect-ExchangeOnline -Organization acme.example first).`,
    );
    expect(r.stdout).toContain(`2. At the DNS host of notify.acme.example`);
    expect(r.stdout).toContain(`3. Site hq: flash the relaykit appliance image`);
    expect(r.stdout).toContain(`4. Site plant:`);
    expect(readFileSync(join(dir, 'NEXT-STEPS.txt'), 'utf8')).toContain('Site plant: flash');
  });

  it('builds the client from flags', async () => {
    const h = harness();
    const r = await h.run([
      'tenant',
      'add',
      'beta',
      '--tenant-id',
      '8f0e3c52-6a1b-4d2e-9c47-000000000002',
      '--subscription',
      '2c4d6e8f-1a3b-4c5d-8e7f-000000000002',
      '--domain',
      'beta.example',
      '--mailbox',
      'mfp@beta.example',
      '--site',
      'hq=192.168.10.0/24,192.168.11.0/24',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ client: 'beta', stack: 'beta', result: 'added' });
    expect(h.engine.stacks.get('beta')?.config.deviceNetworks).toEqual({
      value: '["192.168.10.0/24","192.168.11.0/24"]',
      secret: false,
    });
  });

  it('refuses a missing HVE password variable before creating anything', async () => {
    const h = harness();
    const file = h.clientFile([
      client('acme', 1, { routes: ['hve'], hveAccount: 'h@acme.example', hvePasswordEnv: 'NOPE_PW' }),
    ]);
    const r = await h.run(['tenant', 'add', 'acme', '--file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('relaykit: client acme: hvePasswordEnv names NOPE_PW, which is not set\n');
    expect(h.engine.ops).toEqual([]);
  });
});

describe('tenant add --all', () => {
  it('adds every client, records failures, and a rerun resumes with the failed ones only', async () => {
    const failUp = new Set(['c2']);
    const h = harness({ failUp });
    const file = h.clientFile([client('c1', 1), client('c2', 2), client('c3', 3)]);
    const first = await h.run(['tenant', 'add', '--all', file, '--concurrency', '2']);
    expect(first.code).toBe(1);
    expect(first.stdout.split('\n').slice(0, 4)).toEqual([
      'CLIENT  STACK  RESULT  FILES  DETAIL',
      `c1      c1     added   6      see ${h.out}/c1/NEXT-STEPS.txt`,
      'c2      c2     failed  0      up c2: AuthorizationFailed: the client does not have authorization (fake)',
      `c3      c3     added   6      see ${h.out}/c3/NEXT-STEPS.txt`,
    ]);
    expect(first.stdout).toContain('2 added, 0 skipped, 1 failed');
    failUp.clear();
    h.engine.ops.length = 0;
    const second = await h.run(['tenant', 'add', '--all', file]);
    expect(second.code).toBe(0);
    // c2's stack exists from the failed run: no second createStack, config set again, up.
    expect(h.engine.ops).toEqual([
      'setConfig c2 customerCode,customerName,tenantId,subscriptionId,tenantDomains,senderMailboxes,sites,sitePublicIps,deviceNetworks,defaultRoute,acsEnabled',
      'up c2',
    ]);
    expect(second.stdout).toContain('1 added, 2 skipped, 0 failed');
    expect(existsSync(join(h.out, 'c2/bundles/hq.json'))).toBe(true);
  });

  it('never runs more than --concurrency clients at once', async () => {
    const h = harness({ cloudDelayMs: 5 });
    let running = 0;
    let peak = 0;
    const up = h.engine.up.bind(h.engine);
    h.engine.up = async (name, onOutput) => {
      peak = Math.max(peak, ++running);
      try {
        return await up(name, onOutput);
      } finally {
        running--;
      }
    };
    const file = h.clientFile(Array.from({ length: 7 }, (_, i) => client(`k${i + 1}`, i + 1)));
    expect((await h.run(['tenant', 'add', '--all', file, '--concurrency', '3'])).code).toBe(0);
    expect(peak).toBe(3);
  });

  it('refuses a bad client file before any stack operation, one line per problem naming the key', async () => {
    const h = harness();
    const file = h.clientFile([
      client('c1', 1),
      client('c1', 2),
      client('c3', 3, { tenantId: 'not-a-guid', domains: ['c3.example', 'bad_domain'], colour: 'blue' }),
      client('c4', 4, {
        mailboxes: ['ops@elsewhere.example'],
        sites: [
          { name: 'hq', deviceNetworks: ['10.9.0.0/16'] },
          { name: 'depot', deviceNetworks: ['10.9.4.0/24'] },
        ],
      }),
    ]);
    const r = await h.run(['tenant', 'add', '--all', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `${file}: 6 problems`,
        '  - clients[1].name: duplicate client c1 (also clients[0])',
        '  - clients[2].tenantId: a GUID (the Entra tenant ID)',
        '  - clients[2].domains[1]: a DNS domain name',
        '  - clients[2].colour: unknown key',
        "  - clients[3].mailboxes[0]: ops@elsewhere.example is outside the client's domains (c4.example)",
        '  - clients[3].sites[1].deviceNetworks[0]: 10.9.4.0/24 (site depot) overlaps 10.9.0.0/16 (site hq, clients[3].sites[0].deviceNetworks[0])',
        '',
      ].join('\n'),
    );
    expect(h.engine.ops).toEqual([]);
  });
});
