// Per-identity policy end to end: sender rewrite (envelope and From:, display name kept, every
// delivery leg), envelope Bcc kept, sender/recipient/size/recipient-count/rate limits with their exact
// replies, operator logs and metrics, AUTH blocks that expire, missing headers added, `check` warnings.
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { riskyWarnings } from '../../../appliance/src/cli/check.ts';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import type { DeliveryJob } from '../../../appliance/src/delivery/transport.ts';
import { createLogger } from '../../../appliance/src/log.ts';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import {
  captured,
  makeConfig,
  removeDir,
  startTestAppliance,
  type TestAppliance,
  tempDir,
  waitFor,
} from '../../helpers/appliance.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

let dir: string | undefined;
let t: TestAppliance | undefined;
let logLines: string[] = [];
let clock = Date.now();

afterEach(async () => {
  await t?.stop();
  t = undefined;
  if (dir) await removeDir(dir);
  dir = undefined;
});

async function start(patch: (c: ConfigInput) => ConfigInput): Promise<TestAppliance> {
  dir = await tempDir();
  logLines = [];
  clock = Date.now();
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return startTestAppliance(dir, patch, {
    logger: createLogger({ level: 'info', destination }),
    now: () => clock,
  });
}

/** Records the envelope each delivery leg gets, while the real capture transport still delivers. */
function spyJobs(app: TestAppliance['app']): DeliveryJob[] {
  const jobs: DeliveryJob[] = [];
  const transport = app.transports.get('local') as { deliver: (job: DeliveryJob) => Promise<unknown> };
  const deliver = transport.deliver.bind(transport);
  transport.deliver = (job) => {
    jobs.push(job);
    return deliver(job);
  };
  return jobs;
}

async function greeted(port: number, source = '127.0.0.1'): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port, '127.0.0.1', source);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO device.lan')).code).toBe(250);
  return c;
}

describe('sender rewrite', () => {
  it('rewrites envelope and From: keeping the display name; every Bcc envelope recipient still receives', async () => {
    t = await start((c) => ({
      ...c,
      identities: [
        {
          name: 'scanners',
          networks: ['127.0.0.1/32'],
          allowedSenders: ['scanner@local'],
          rewriteSender: 'scanner@contoso.com',
        },
      ],
    }));
    const jobs = spyJobs(t.app);
    const c = await greeted(t.port);
    expect((await c.command('MAIL FROM:<scanner@local>')).code).toBe(250);
    for (const r of ['alice@contoso.com', 'bob@contoso.com', 'hidden@contoso.com', 'audit@fabrikam.com'])
      expect((await c.command(`RCPT TO:<${r}>`)).code).toBe(250);
    expect((await c.command('DATA')).code).toBe(354);
    const reply = await c.command(
      [
        'From: "Scanner, 3rd floor" <scanner@local>',
        'To: Alice <alice@contoso.com>',
        'Cc: bob@contoso.com',
        'Subject: Scan 0042',
        'Date: Sun, 22 Nov 2026 01:00:00 +0000',
        'Message-ID: <scan-0042@scanner.local>',
        '',
        'page 1',
        '.',
      ].join('\r\n'),
    );
    expect(reply.code).toBe(250);
    c.close();
    const files = await waitFor(async () => {
      const f = await captured(join(dir as string, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    const text = files[0]?.text ?? '';
    expect(text).toContain('\r\nFrom: "Scanner, 3rd floor" <scanner@contoso.com>\r\n');
    expect(text).not.toContain('scanner@local');
    expect(text).not.toMatch(/^Bcc:/im);
    expect(text).toContain('Message-ID: <scan-0042@scanner.local>');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.mailFrom).toBe('scanner@contoso.com');
    expect([...(jobs[0]?.recipients ?? [])].sort()).toEqual([
      'alice@contoso.com',
      'audit@fabrikam.com',
      'bob@contoso.com',
      'hidden@contoso.com',
    ]);
    const repaired = logLines.find((l) => l.includes('message content repaired'));
    expect(JSON.parse(repaired as string)).toMatchObject({
      identity: 'scanners',
      changes: ['From rewritten'],
    });
  });

  it('adds From (the rewritten sender), Date and Message-ID to a bare device message', async () => {
    t = await start((c) => ({
      ...c,
      identities: [{ name: 'scanners', networks: ['127.0.0.1/32'], rewriteSender: 'scanner@contoso.com' }],
    }));
    const c = await greeted(t.port);
    await c.command('MAIL FROM:<>');
    await c.command('RCPT TO:<a@contoso.com>');
    await c.command('DATA');
    const r = await c.command('Subject: bare\r\n\r\nno from, no date, no id\r\n.');
    expect(r.code).toBe(250);
    const id = /queued as (\S+)/.exec(r.text)?.[1];
    c.close();
    const files = await waitFor(async () => {
      const f = await captured(join(dir as string, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    const text = files[0]?.text ?? '';
    expect(text).toContain('\r\nFrom: <scanner@contoso.com>\r\n');
    expect(text).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/);
    expect(text).toContain(`\r\nMessage-ID: <${id}@relaykit.local>\r\n`);
  });
});

describe('per-identity limits: exact replies, logged and counted', () => {
  async function limited(): Promise<TestAppliance> {
    return start((c) => ({
      ...c,
      identities: [
        {
          name: 'mfp',
          networks: ['127.0.0.1/32'],
          allowedSenders: ['@contoso.com'],
          allowedRecipientDomains: ['contoso.com'],
          maxMessageSize: '2KB',
          maxRecipients: 2,
          ratePerMinute: 2,
        },
      ],
    }));
  }

  it('sender, recipient domain, recipient count and size each get their code; the log names identity, source, rule and reason', async () => {
    t = await limited();
    const c = await greeted(t.port);
    const sender = await c.command('MAIL FROM:<mfp@fabrikam.com>');
    expect(sender.text).toBe('550 5.7.1 Sender <mfp@fabrikam.com> not allowed for mfp\r\n');
    expect((await c.command('MAIL FROM:<mfp@contoso.com>')).code).toBe(250);
    const foreign = await c.command('RCPT TO:<victim@gmail.com>');
    expect(foreign.text).toBe('550 5.7.1 Relay access denied: mfp may not send to <victim@gmail.com>\r\n');
    expect((await c.command('RCPT TO:<a@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<b@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<c@contoso.com>')).text).toBe(
      '452 4.5.3 Too many recipients (limit 2)\r\n',
    );
    expect((await c.command('DATA')).code).toBe(354);
    const body = `Subject: big\r\n\r\n${`${'x'.repeat(78)}\r\n`.repeat(40)}`;
    const big = await c.command(`${body}.`);
    expect(big.text).toBe('552 5.3.4 Message exceeds fixed maximum message size 2048\r\n');
    c.close();
    for (const reason of [
      'RELAY_SENDER_DENIED',
      'RELAY_RECIPIENT_DENIED',
      'RELAY_TOO_MANY_RECIPIENTS',
      'RELAY_MESSAGE_TOO_LARGE',
    ]) {
      expect(await t.app.metrics.get('relaykit_rejected_total', { reason })).toBe(1);
    }
    const metrics = await t.app.metrics.render();
    expect(metrics).toContain('relaykit_rejected_total{reason="RELAY_SENDER_DENIED"} 1');
    const rejected = logLines.filter((l) => l.includes('smtp: rejected')).map((l) => JSON.parse(l));
    expect(rejected[0]).toMatchObject({
      listener: 'test',
      ip: '127.0.0.1',
      identity: 'mfp',
      via: 'network',
      code: 'RELAY_SENDER_DENIED',
      rule: 'identities.mfp.allowedSenders',
      reply: 550,
    });
    expect(rejected.map((r) => r.rule)).toEqual([
      'identities.mfp.allowedSenders',
      'identities.mfp.allowedRecipientDomains',
      'identities.mfp.maxRecipients',
      'identities.mfp.maxMessageSize',
    ]);
    expect(await captured(join(dir as string, 'outbox'))).toEqual([]);
  });

  it('over the rate: 451 4.7.1 (the device retries later and nothing is lost)', async () => {
    t = await limited();
    const c = await greeted(t.port);
    for (let i = 0; i < 2; i++) {
      expect((await c.command('MAIL FROM:<mfp@contoso.com>')).code).toBe(250);
      expect((await c.command('RCPT TO:<a@contoso.com>')).code).toBe(250);
      await c.command('DATA');
      expect((await c.command(`Subject: ${i}\r\n\r\nx\r\n.`)).code).toBe(250);
    }
    const over = await c.command('MAIL FROM:<mfp@contoso.com>');
    expect(over.text).toBe('451 4.7.1 Rate limit of 2 messages/minute reached; try again later\r\n');
    clock += 31_000; // half a minute refills one message
    expect((await c.command('MAIL FROM:<mfp@contoso.com>')).code).toBe(250);
    c.close();
    expect(await t.app.metrics.get('relaykit_rejected_total', { reason: 'RELAY_RATE_LIMITED' })).toBe(1);
  });
});

describe('AUTH failure blocking', () => {
  it('blocks a source after the limit across connections with 421, logs it, and lifts the block later', async () => {
    const passwordHash = await hashPassword('right-password', { N: 1024 });
    t = await start((c) => ({
      ...c,
      listeners: [
        {
          name: 'trusted',
          port: 0,
          auth: true,
          allowCleartextAuth: true,
          authFailures: { limit: 3, window: '1m', block: '5m', delay: '150ms' },
        },
      ],
      identities: [{ name: 'app', users: [{ username: 'app', passwordHash }] }],
    }));
    const bad = `AUTH PLAIN ${Buffer.from('\0app\0nope').toString('base64')}`;
    const good = `AUTH PLAIN ${Buffer.from('\0app\0right-password').toString('base64')}`;
    const c1 = await greeted(t.port, '127.0.0.9');
    const started = Date.now();
    expect((await c1.command(bad)).code).toBe(535);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140); // each failure is delayed
    expect((await c1.command(bad)).code).toBe(535);
    c1.close();
    const c2 = await greeted(t.port, '127.0.0.9');
    const third = await c2.command(bad);
    expect(third.text).toBe('421 4.7.0 Too many failed logins from [127.0.0.9]; try again later\r\n');
    expect(await c2.waitClosed()).toBe(true);
    const c3 = await RawSmtp.connect(t.port, '127.0.0.1', '127.0.0.9');
    expect((await c3.reply()).text).toMatch(
      /^421 4\.7\.0 Too many failed logins from \[127\.0\.0\.9\]; try again in 300 s/,
    );
    // Another address is unaffected.
    const other = await greeted(t.port, '127.0.0.10');
    expect((await other.command(good)).code).toBe(235);
    other.close();
    clock += 5 * 60_000 + 1;
    const c4 = await greeted(t.port, '127.0.0.9');
    expect((await c4.command(good)).code).toBe(235);
    c4.close();
    expect(await t.app.metrics.get('relaykit_rejected_total', { reason: 'RELAY_AUTH_BLOCKED' })).toBe(2);
    const blocked = logLines.find((l) => l.includes('"code":"RELAY_AUTH_BLOCKED"'));
    expect(JSON.parse(blocked as string)).toMatchObject({
      ip: '127.0.0.9',
      rule: 'listeners.trusted.authFailures',
    });
    expect(logLines.join('\n')).not.toContain('right-password');
  });
});

describe('connection limits', () => {
  it('maxClients: connections over the limit get 421 at once; the allowed ones carry on', async () => {
    t = await start((c) => ({ ...c, listeners: [{ name: 'small', port: 0, auth: false, maxClients: 2 }] }));
    const a = await greeted(t.port);
    const b = await greeted(t.port);
    const extra = await RawSmtp.connect(t.port);
    expect((await extra.reply()).text).toMatch(/^421 .*Too many connected clients/);
    expect(await extra.waitClosed()).toBe(true);
    expect((await a.command('NOOP')).code).toBe(250);
    a.close();
    b.close();
  });
});

describe('relaykit-appliance check: risky settings', () => {
  it('warns about cleartext AUTH off loopback, legacy TLS, a 0.0.0.0/0 allowlist and client certs no identity maps', async () => {
    const d = await tempDir();
    try {
      const config = makeConfig(d, (c) => ({
        ...c,
        listeners: [
          { name: 'lan', address: '0.0.0.0', port: 0, auth: true, allowCleartextAuth: true },
          {
            name: 'old-mfp',
            port: 0,
            tls: {
              mode: 'starttls',
              cert: 'x.crt',
              key: 'x.key',
              minVersion: 'TLSv1',
              clientCertificates: { ca: 'ca.crt' },
            },
          },
          { name: 'safe', port: 0, tls: { mode: 'starttls', cert: 'x.crt', key: 'x.key' } },
        ],
        identities: [{ name: 'everyone', networks: ['0.0.0.0/0'] }],
      }));
      const w = riskyWarnings(config);
      expect(w).toHaveLength(4);
      expect(w[0]).toMatch(/^listeners\[0\] \(lan\): allowCleartextAuth on 0\.0\.0\.0/);
      expect(w.find((x) => x.includes('old-mfp') && x.includes('TLSv1'))).toMatch(/security level 0/);
      expect(w.find((x) => x.includes('clientCertificates'))).toMatch(/no identity lists certificates/);
      expect(w.find((x) => x.includes('0.0.0.0/0'))).toMatch(/^identities\[0\] \(everyone\)/);
      expect(w.some((x) => x.includes('(safe)'))).toBe(false);
    } finally {
      await removeDir(d);
    }
  });

  it('refuses a legacy listener whose explicit cipher list lacks @SECLEVEL=0, and client certs without TLS', () => {
    expect(() =>
      makeConfig('/tmp', (c) => ({
        ...c,
        listeners: [
          {
            name: 'x',
            port: 0,
            tls: { mode: 'starttls', cert: 'a', key: 'b', minVersion: 'TLSv1.1', ciphers: 'HIGH' },
          },
        ],
      })),
    ).toThrow(/listeners\[0\]\.tls\.ciphers: minVersion TLSv1\.1 needs "@SECLEVEL=0"/);
    expect(() =>
      makeConfig('/tmp', (c) => ({
        ...c,
        listeners: [{ name: 'x', port: 0, tls: { mode: 'none', clientCertificates: { ca: 'ca.crt' } } }],
      })),
    ).toThrow(/clientCertificates: client certificates need TLS/);
  });
});
