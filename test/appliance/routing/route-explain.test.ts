import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../appliance/src/config/load.ts';
import { main } from '../../../appliance/src/main.ts';
import { explainRoute } from '../../../appliance/src/routing/explain.ts';
import { compileRules, routeMessage } from '../../../appliance/src/routing/router.ts';
import { message, rulesWith } from '../../helpers/routing/factories.ts';

const CONFIG = fileURLToPath(new URL('../../fixtures/routing/explain.yaml', import.meta.url));

async function explain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (c) => {
    chunks.out += String(c);
  });
  stderr.on('data', (c) => {
    chunks.err += String(c);
  });
  const code = await main(['route', 'explain', ...args], { stdout, stderr });
  return { code, ...chunks };
}

const base = ['--config', CONFIG, '--identity', 'scanners', '--source-ip', '10.1.2.3'];

describe('route explain', () => {
  it('prints one line per recipient group with route, rule and reasons, and exits 0', async () => {
    const r = await explain([
      ...base,
      '--from',
      'mfd@contoso.com',
      '--to',
      'a@fabrikam.com,bob@contoso.com',
      '--to',
      'c@fabrikam.com',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'ROUTE  acs  rule=scans-external  to=a@fabrikam.com,c@fabrikam.com  mailFrom=noreply@contoso.com  because: identity is "scanners"; recipient domain "fabrikam.com" is external (not in acceptedDomains)',
      'ROUTE  local  rule=default  to=bob@contoso.com  because: no rule matched',
      '',
    ]);
  });

  it('shows sendAs and the fallback chain, matching headers given as NAME:VALUE', async () => {
    const r = await explain([
      ...base,
      '--from',
      'mfd@contoso.com',
      '--to',
      'bob@contoso.com',
      '--header',
      'Subject: Your Invoice 42',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'ROUTE  graph  rule=invoices  to=bob@contoso.com  sendAs=billing@contoso.com  fallback=acs  because: header subject "Your Invoice 42" matches "*invoice*"\n',
    );
  });

  it('exits 3 (refused, documented in routing.md) and says whether a rejection happens at RCPT or after DATA', async () => {
    const rcpt = await explain([...base, '--from', '<x@blocked.example>', '--to', 'bob@contoso.com']);
    expect(rcpt.code).toBe(3);
    expect(rcpt.err).toBe('');
    expect(rcpt.out).toBe(
      'REJECT 553 5.7.1  rule=blocked-sender  to=bob@contoso.com  at=RCPT  reply="Sender not allowed"  because: MAIL FROM "x@blocked.example" matches "*@blocked.example"\n',
    );
    const data = await explain([
      ...base,
      '--from',
      'mfd@contoso.com',
      '--to',
      'a@fabrikam.com,bob@contoso.com',
      '--size',
      '11MB',
    ]);
    expect(data.code).toBe(3);
    expect(data.out.split('\n')).toEqual([
      'ROUTE  local  rule=default  to=bob@contoso.com  because: no rule matched',
      'REJECT 552 5.3.4  rule=too-big-external  to=a@fabrikam.com  at=DATA  reply="Too large for external delivery"  because: recipient domain "fabrikam.com" is external (not in acceptedDomains); size 11534336 bytes is over 10485760',
      '',
    ]);
  });

  it('prints JSON that is the same decision routeMessage makes', async () => {
    const args = ['--from', 'mfd@contoso.com', '--to', 'a@fabrikam.com,bob@contoso.com,x@hr.contoso.com'];
    const r = await explain([...base, ...args, '--size', '2048', '--header', 'Subject: invoice', '--json']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out) as { legs: { route: string; rule: string; recipients: string[] }[] };
    const direct = routeMessage(compileRules(loadConfig(CONFIG).config), {
      identity: 'scanners',
      sourceIp: '10.1.2.3',
      mailFrom: 'mfd@contoso.com',
      recipients: ['a@fabrikam.com', 'bob@contoso.com', 'x@hr.contoso.com'],
      size: 2048,
      headers: [{ name: 'Subject', value: 'invoice' }],
    });
    expect(printed.legs.map(({ route, rule, recipients }) => ({ route, rule, recipients }))).toEqual(
      direct.legs.map(({ route, rule, recipients }) => ({ route, rule, recipients })),
    );
    expect(direct.legs.map((l) => l.rule)).toEqual(['scans-external', 'invoices']);
  });

  it('with --json a refusal still exits 3 and is listed under rejections', async () => {
    const r = await explain([...base, '--from', 'x@blocked.example', '--to', 'bob@contoso.com', '--json']);
    expect(r.code).toBe(3);
    expect(r.err).toBe('');
    const printed = JSON.parse(r.out) as { legs: unknown[]; rejections: { rule: string; at: string }[] };
    expect(printed.legs).toEqual([]);
    expect(printed.rejections.map(({ rule, at }) => ({ rule, at }))).toEqual([
      { rule: 'blocked-sender', at: 'RCPT' },
    ]);
  });

  it('groups rejections of one rule by stage', () => {
    const rules = rulesWith([
      {
        name: 'big-to-fabrikam',
        match: { recipientDomain: 'fabrikam.com', size: { over: '5MB' } },
        action: { route: 'acs' },
      },
      { name: 'blocked', match: { mailFrom: '*@blocked.example' }, action: { reject: true } },
    ]);
    const ex = explainRoute(
      rules,
      message({ mailFrom: 'x@blocked.example', recipients: ['a@contoso.com', 'b@fabrikam.com'] }),
    );
    // For b@fabrikam.com a size rule comes first, so RCPT time cannot decide; DATA then rejects it.
    expect(ex.rejections.map((r) => [r.rule, r.at, r.recipients])).toEqual([
      ['blocked', 'RCPT', ['a@contoso.com']],
      ['blocked', 'DATA', ['b@fabrikam.com']],
    ]);
  });

  // Usage errors exit 2 with the reason and the usage line (issue 12: one habit for every command).
  it.each([
    [['--from', 'a@contoso.com', '--to', 'b@contoso.com'], /--config FILE is required/],
    [['--config', CONFIG, '--to', 'b@contoso.com'], /--from ADDRESS is required/],
    [['--config', CONFIG, '--from', 'a@contoso.com'], /--to ADDRESS is required/],
    [
      ['--config', CONFIG, '--from', 'a@x.y', '--to', 'b@x.y', '--size', 'big'],
      /--size: "big" is not a size/,
    ],
    [['--config', CONFIG, '--from', 'a@x.y', '--to', 'b@x.y', '--header', 'NoColon'], /use NAME:VALUE/],
    [
      ['--config', CONFIG, '--from', 'a@x.y', '--to', 'b@x.y', '--identity', 'nope'],
      /no identity named "nope"/,
    ],
    [['--config', CONFIG, '--from', 'a@x.y', '--to', 'b@x.y', '--bogus'], /unknown option '--bogus'/i],
  ])('exits 2 on a usage error %j', async (args, message) => {
    const r = await explain(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/^usage: relaykit-appliance route explain --config FILE/m);
  });

  it('exits 1 on a config it cannot read', async () => {
    const r = await explain(['--config', '/nonexistent/relaykit.yaml', '--from', 'a@x.y', '--to', 'b@x.y']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/cannot read \/nonexistent/);
  });

  it('exits 1 naming the bad key of an invalid rule config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaykit-explain-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `listeners: [{name: l, port: 2525}]
identities: [{name: i}]
routes: [{name: local, type: capture, directory: out}]
defaultRoute: local
rules:
  - {name: a, match: {mailFrom: "x y"}, action: {route: local}}
`,
    );
    const r = await explain(['--config', file, '--from', 'a@x.y', '--to', 'b@x.y']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/rules\[0\]\.match\.mailFrom: "x y" is not an address pattern/);
  });

  it('runs as `relaykit-appliance route explain`: exits 3 on a refusal, 2 on a usage error', () => {
    const bin = fileURLToPath(new URL('../../../appliance/bin/relaykit-appliance.js', import.meta.url));
    const args = [
      'route',
      'explain',
      '--config',
      CONFIG,
      '--from',
      'x@blocked.example',
      '--to',
      'bob@contoso.com',
    ];
    const r = spawnSync(process.execPath, [bin, ...args, '--identity', 'apps'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^REJECT 553 5\.7\.1 {2}rule=blocked-sender {2}to=bob@contoso\.com {2}at=RCPT/);
    const bad = spawnSync(process.execPath, [bin, 'route', 'explian'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'explian'/);
  });

  it('finds the identity the receiver would use from --source-ip when --identity is omitted', async () => {
    const args = ['--config', CONFIG, '--from', 'mfd@contoso.com', '--to', 'a@fabrikam.com'];
    const byIp = await explain([...args, '--source-ip', '::ffff:10.1.7.7']);
    expect(byIp.err).toBe('note: identity "scanners" from --source-ip ::ffff:10.1.7.7\n');
    expect(byIp.out).toMatch(/^ROUTE {2}acs {2}rule=scans-external/);
    const byUser = await explain([...args, '--source-ip', '10.1.7.7', '--auth-user', 'erp']);
    expect(byUser.err).toBe('note: identity "apps" from --auth-user erp\n');
    expect(byUser.out).toMatch(/^ROUTE {2}local {2}rule=default/);
    const none = await explain(args);
    expect(none.err).toMatch(/^note: no identity/);
    expect(none.out).toMatch(/^ROUTE {2}local {2}rule=default/);
  });

  it('prints usage on --help', async () => {
    const r = await explain(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: relaykit-appliance route explain --config FILE/);
  });
});
