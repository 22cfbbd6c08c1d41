// Routing rules seen from a device: the exact replies at RCPT and after DATA, and the legs a split
// message leaves in the spool and the capture routes. Real appliance on port 0, raw SMTP socket.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { applianceSandbox, captured, waitFor } from '../../helpers/appliance.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

const sandbox = applianceSandbox('relaykit-routing-');

function withRules(c: ConfigInput): ConfigInput {
  return {
    ...c,
    acceptedDomains: ['contoso.com'],
    routes: [...c.routes, { name: 'acs', type: 'capture', directory: join(sandbox.dir, 'acs') }],
    rules: [
      {
        name: 'blocked-sender',
        match: { mailFrom: '*@blocked.example' },
        action: { reject: { code: 553, enhanced: '5.7.1', message: 'Sender not allowed' } },
      },
      {
        name: 'too-big-external',
        match: { external: true, size: { over: '1KB' } },
        action: { reject: { code: 552, enhanced: '5.3.4', message: 'Too large for external delivery' } },
      },
      {
        name: 'external',
        match: { external: true },
        action: { route: 'acs', rewriteSender: 'noreply@contoso.com' },
      },
    ],
  };
}

async function session(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO mfd.test')).code).toBe(250);
  return c;
}

async function data(c: RawSmtp, bodyBytes: number): Promise<{ code: number; line: string }> {
  expect((await c.command('DATA')).code).toBe(354);
  const body = `${'x'.repeat(76)}\r\n`.repeat(Math.ceil(bodyBytes / 78));
  const r = await c.command(`From: mfd@contoso.com\r\nSubject: scan\r\n\r\n${body}.`);
  return { code: r.code, line: r.lines[0] ?? '' };
}

describe('intake with routing rules', () => {
  it('answers a rule rejection at RCPT with the rule’s own code and text', async () => {
    const t = await sandbox.start(withRules);
    const c = await session(t.port);
    expect((await c.command('MAIL FROM:<x@blocked.example>')).code).toBe(250);
    const r = await c.command('RCPT TO:<bob@contoso.com>');
    expect(r.lines).toEqual(['553 5.7.1 Sender not allowed']);
    c.close();
  });

  it('splits a message: internal to the default route, external to acs with the sender rewritten', async () => {
    // acs captures under a regular file, so its leg cannot finish and the entry stays inspectable.
    await writeFile(join(sandbox.dir, 'blocker'), '');
    const t = await sandbox.start((c) => {
      const r = withRules(c);
      return {
        ...r,
        routes: [
          c.routes[0]!,
          { name: 'acs', type: 'capture', directory: join(sandbox.dir, 'blocker', 'acs') },
        ],
      };
    });
    const c = await session(t.port);
    expect((await c.command('MAIL FROM:<mfd@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<bob@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<ext@fabrikam.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<ann@contoso.com>')).code).toBe(250);
    expect((await data(c, 100)).code).toBe(250);
    c.close();
    await waitFor(
      async () => (await captured(join(sandbox.dir, 'outbox'))).length === 1 || undefined,
      10_000,
      'local',
    );
    const entry = await waitFor(
      async () => (await t!.app.spool.list('queue'))[0] ?? (await t!.app.spool.list('dead'))[0],
      10_000,
      'spool entry',
    );
    expect(entry.header.envelope).toEqual({
      mailFrom: 'mfd@contoso.com',
      rcptTo: ['bob@contoso.com', 'ext@fabrikam.com', 'ann@contoso.com'],
    });
    expect(entry.header.deliveries.map((d) => [d.route, d.rule, d.recipients, d.mailFrom])).toEqual([
      ['local', 'default', ['bob@contoso.com', 'ann@contoso.com'], undefined],
      ['acs', 'external', ['ext@fabrikam.com'], 'noreply@contoso.com'],
    ]);
    // The trace's received event names each leg's route and rule, in leg order.
    const received = await waitFor(async () => {
      const names = await readdir(join(sandbox.dir, 'spool', 'trace'));
      const text = (
        await Promise.all(names.map((n) => readFile(join(sandbox.dir, 'spool', 'trace', n), 'utf8')))
      ).join('');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { id: string; event: string; routes?: string[]; rules?: string[] })
        .find((e) => e.event === 'received' && e.id === entry.header.id);
    });
    expect([received.routes, received.rules]).toEqual([
      ['local', 'acs'],
      ['default', 'external'],
    ]);
  });

  it('after DATA: accepts for the routed recipients and keeps the refused one as a dead leg with the reason', async () => {
    const t = await sandbox.start(withRules);
    const c = await session(t.port);
    expect((await c.command('MAIL FROM:<mfd@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<ext@fabrikam.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<bob@contoso.com>')).code).toBe(250);
    const r = await data(c, 4000);
    expect(r.code).toBe(250);
    c.close();
    await waitFor(
      async () => (await captured(join(sandbox.dir, 'outbox'))).length === 1 || undefined,
      10_000,
      'local',
    );
    expect(await captured(join(sandbox.dir, 'acs'))).toEqual([]);
    const entry = await waitFor(async () => (await t!.app.spool.list('dead'))[0], 10_000, 'dead entry');
    const dead = entry.header.deliveries.find((d) => d.rule === 'too-big-external');
    expect(dead).toMatchObject({ status: 'dead', recipients: ['ext@fabrikam.com'] });
    expect(dead?.deadReason).toContain('552 5.3.4 Too large for external delivery');
  });

  it('after DATA: refuses the whole message with the rule’s reply when every recipient is rejected', async () => {
    const t = await sandbox.start(withRules);
    const c = await session(t.port);
    expect((await c.command('MAIL FROM:<mfd@contoso.com>')).code).toBe(250);
    expect((await c.command('RCPT TO:<ext@fabrikam.com>')).code).toBe(250);
    const r = await data(c, 4000);
    expect(r.line).toBe('552 5.3.4 Too large for external delivery');
    c.close();
    expect(await t.app.spool.list('queue')).toEqual([]);
  });
});
