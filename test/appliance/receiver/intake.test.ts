import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import {
  applianceSandbox,
  captured,
  sendMail,
  type TestAppliance,
  waitFor,
} from '../../helpers/appliance.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';
import { requireIpv6Loopback } from '../../helpers/tools.ts';

const sandbox = applianceSandbox();

async function session(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  return c;
}

describe('intake: allowlisted devices', () => {
  it('accepts from an allowlisted address, spools, and the capture route writes the message with a Received header', async () => {
    const t = await sandbox.start();
    const info = await sendMail(t.port, {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      bcc: 'hidden@contoso.com',
      subject: 'Scan 42',
      text: 'scanned page',
    });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z-]+$/);
    const files = await waitFor(async () => {
      const f = await captured(join(sandbox.dir, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    const text = files[0]?.text ?? '';
    expect(text).toMatch(
      /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby relaykit\.local \(relaykit\) with ESMTP id /,
    );
    expect(text).toContain('Subject: Scan 42');
    expect(text).toContain('scanned page');
    // Bcc is not in the content; it lives only in the envelope the spool kept.
    expect(text).not.toContain('hidden@contoso.com');
    const trace = await import('node:fs/promises').then((fs) =>
      fs.readdir(join(sandbox.dir, 'spool', 'trace')),
    );
    expect(trace.length).toBe(1);
    expect(await t.app.metrics.get('relaykit_accepted_total', { listener: 'test' })).toBe(1);
    expect(await t.app.metrics.get('relaykit_delivered_total', { route: 'local' })).toBe(1);
  });

  it('answers 554 5.7.1 at connect to an address no identity allows (never an open relay)', async () => {
    const t = await sandbox.start((c) => ({
      ...c,
      identities: [{ name: 'lan', networks: ['10.20.0.0/16'] }],
    }));
    const c = await RawSmtp.connect(t.port);
    const r = await c.reply();
    expect(r.code).toBe(554);
    expect(r.text).toContain('5.7.1');
    expect(await c.waitClosed()).toBe(true);
    expect(await t.app.metrics.get('relaykit_rejected_total', { reason: 'RELAY_ACCESS_DENIED' })).toBe(1);
  });

  it('matches IPv6 ranges for clients on ::1', async (ctx) => {
    await requireIpv6Loopback(ctx);
    const t = await sandbox.start((c) => ({
      ...c,
      listeners: [{ name: 'v6', address: '::1', port: 0, auth: false }],
      identities: [{ name: 'v6-only', networks: ['::1/128'] }],
    }));
    const c = await RawSmtp.connect(t.port, '::1');
    expect((await c.reply()).code).toBe(220);
    expect((await c.command('EHLO v6.test')).code).toBe(250);
    expect((await c.command('MAIL FROM:<a@contoso.com>')).code).toBe(250);
    c.close();
  });
});

describe('intake: SMTP AUTH users', () => {
  async function withUser(): Promise<TestAppliance> {
    const passwordHash = await hashPassword('correct horse battery', { N: 1024 });
    return sandbox.start((c) => ({
      ...c,
      listeners: [{ name: 'auth', address: '127.0.0.1', port: 0, auth: true, allowCleartextAuth: true }],
      identities: [
        { name: 'nobody-by-ip', networks: ['10.99.0.0/16'] },
        { name: 'app-server', users: [{ username: 'app1', passwordHash }] },
      ],
    }));
  }

  it('requires AUTH (530) from an address outside every allowlist, refuses a wrong password (535), accepts the right one', async () => {
    const t = await withUser();
    const c = await session(t.port);
    const ehlo = await c.command('EHLO client.test');
    expect(ehlo.text).toMatch(/AUTH PLAIN LOGIN/);
    expect((await c.command('MAIL FROM:<app@contoso.com>')).code).toBe(530);
    const bad = await c.command(`AUTH PLAIN ${Buffer.from('\0app1\0wrong').toString('base64')}`);
    expect(bad.code).toBe(535);
    expect(bad.text).toContain('5.7.8');
    const good = await c.command(
      `AUTH PLAIN ${Buffer.from('\0app1\0correct horse battery').toString('base64')}`,
    );
    expect(good.code).toBe(235);
    expect((await c.command('MAIL FROM:<app@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<bob@fabrikam.com>')).code).toBe(250);
    c.close();
  });

  it('delivers an authenticated nodemailer submission (AUTH LOGIN)', async () => {
    const t = await withUser();
    const info = await sendMail(
      t.port,
      { to: 'x@fabrikam.com' },
      { auth: { user: 'app1', pass: 'correct horse battery' } },
    );
    expect(info.response).toMatch(/^250 /);
    const files = await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 1 ? true : undefined,
    );
    expect(files).toBe(true);
  });

  it('does not offer AUTH on a cleartext listener unless explicitly allowed', async () => {
    const passwordHash = await hashPassword('pw-12345678', { N: 1024 });
    const t = await sandbox.start((c) => ({
      ...c,
      listeners: [{ name: 'plain', address: '127.0.0.1', port: 0, auth: true }],
      identities: [
        { name: 'lan', networks: ['127.0.0.0/8'] },
        { name: 'u', users: [{ username: 'u', passwordHash }] },
      ],
    }));
    const c = await session(t.port);
    const ehlo = await c.command('EHLO x');
    expect(ehlo.text).not.toMatch(/AUTH/);
    const r = await c.command(`AUTH PLAIN ${Buffer.from('\0u\0pw-12345678').toString('base64')}`);
    expect(r.code).toBeGreaterThanOrEqual(500);
    c.close();
  });
});

describe('intake: size limit', () => {
  it('advertises SIZE honestly and answers 552 to MAIL FROM SIZE= over it and to DATA over it, spooling nothing', async () => {
    const t = await sandbox.start((c) => ({
      ...c,
      listeners: [{ name: 'small', address: '127.0.0.1', port: 0, auth: false, maxMessageSize: '1KB' }],
    }));
    const c = await session(t.port);
    const ehlo = await c.command('EHLO x');
    expect(ehlo.text).toMatch(/^250[- ]SIZE 1024\r?$/m);
    expect((await c.command('MAIL FROM:<a@contoso.com> SIZE=5000')).code).toBe(552);
    expect((await c.command('MAIL FROM:<a@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<b@contoso.com>')).code).toBe(250);
    expect((await c.command('DATA')).code).toBe(354);
    c.write(`Subject: big\r\n\r\n${'x'.repeat(78)}\r\n`.repeat(40));
    const r = await c.command('.');
    expect(r.code).toBe(552);
    expect(r.text).toContain('5.3.4');
    c.close();
    expect(await readdir(join(sandbox.dir, 'spool', 'queue'))).toEqual([]);
    expect(await readdir(join(sandbox.dir, 'spool', 'incoming'))).toEqual([]);
  });
});

describe('intake: failures lose nothing and crash nothing', () => {
  it('answers 452 4.3.1 when the spool cannot be written, leaving no partial file', async () => {
    let fail = false;
    const t = await sandbox.start(undefined, {
      spoolFaults: {
        beforeWrite() {
          if (fail) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      },
    });
    fail = true;
    const c = await session(t.port);
    await c.command('EHLO x');
    await c.command('MAIL FROM:<a@contoso.com>');
    await c.command('RCPT TO:<b@contoso.com>');
    expect((await c.command('DATA')).code).toBe(354);
    const r = await c.command('Subject: x\r\n\r\nbody\r\n.');
    expect(r.code).toBe(452);
    expect(r.text).toContain('4.3.1');
    // The session continues and the next message goes through once the disk has room again.
    fail = false;
    await c.command('MAIL FROM:<a@contoso.com>');
    await c.command('RCPT TO:<b@contoso.com>');
    await c.command('DATA');
    expect((await c.command('Subject: y\r\n\r\nbody\r\n.')).code).toBe(250);
    c.close();
    expect(await readdir(join(sandbox.dir, 'spool', 'incoming'))).toEqual([]);
    await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 1 ? true : undefined,
    );
  });

  it('survives a client that resets the connection mid-DATA and removes the partial file', async () => {
    const t = await sandbox.start();
    for (let i = 0; i < 5; i++) {
      const c = await session(t.port);
      await c.command('EHLO x');
      await c.command('MAIL FROM:<a@contoso.com>');
      await c.command('RCPT TO:<b@contoso.com>');
      await c.command('DATA');
      c.write(`Subject: partial\r\n\r\n${'y'.repeat(100_000)}`);
      await new Promise((r) => setTimeout(r, 30));
      c.close();
    }
    await waitFor(async () =>
      (await readdir(join(sandbox.dir, 'spool', 'incoming'))).length === 0 ? true : undefined,
    );
    // Still serving.
    const info = await sendMail(t.port, { subject: 'after resets' });
    expect(info.response).toMatch(/^250 /);
    // No temporary left behind anywhere in the queue (a name containing "tmp", whatever its form).
    expect((await readdir(join(sandbox.dir, 'spool', 'queue'))).filter((n) => /tmp/i.test(n))).toEqual([]);
  });
});

describe('intake: sending mailbox', () => {
  it("records the identity's sendAs on every leg (the Graph mailbox), unless a rule sets its own", async () => {
    const t = await sandbox.start((c) => ({
      ...c,
      identities: [{ name: 'mfd', networks: ['127.0.0.0/8'], sendAs: 'scans@contoso.com' }],
      // A capture route that cannot write: the entry stays inspectable in the dead-letter folder.
      routes: [{ name: 'held', type: 'capture', directory: '/dev/null/held' }],
      defaultRoute: 'held',
      rules: [
        {
          name: 'ceo',
          match: { recipient: 'ceo@contoso.com' },
          action: { route: 'held', sendAs: 'office@contoso.com' },
        },
      ],
    }));
    await sendMail(t.port, { from: 'scanner@local', to: ['a@contoso.com', 'ceo@contoso.com'] });
    const dead = await waitFor(async () => {
      const d = await t.app.spool.list('dead');
      return d?.length === 1 ? d : undefined;
    });
    const legs = Object.fromEntries(
      (dead[0]?.deliveries ?? []).map((d) => [d.recipients.join(','), d.sendAs]),
    );
    expect(legs).toEqual({ 'a@contoso.com': 'scans@contoso.com', 'ceo@contoso.com': 'office@contoso.com' });
  });
});
