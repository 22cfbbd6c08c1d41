// Notices end to end: SMTP in (nodemailer), a dead letter, and the DSN out through the notice route
// to a real smtp-server, parsed back with mailparser and checked field by field (RFC 3464). No DSN for
// the null sender, Auto-Submitted mail or a report; a delay DSN once; a failing DSN is dead-lettered
// once and never answered. Alerts: grouped and rate-limited (1,000 dead letters → ≤ 5 messages), one
// webhook alert for a failing route, and a webhook that hangs never holds up delivery.
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { AlertGrouper, type AlertMessage, webhookBody } from '../../../appliance/src/ops/notices/alerts.ts';
import {
  applianceSandbox,
  captured,
  sendMail,
  type TestAppliance,
  waitFor,
} from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { SmtpSink } from '../../helpers/sim/smtp-sink.ts';
import { webhookServer as startWebhook } from '../../helpers/webhook.ts';

const sandbox = applianceSandbox('relaykit-notices-');
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await sandbox.stop();
  for (const c of closers.splice(0)) await c();
});

async function sink(): Promise<SmtpSink> {
  const s = new SmtpSink({ tls: 'none' });
  await s.start();
  closers.push(() => s.close());
  return s;
}

/** Routes: "broken" (every leg dead-letters), "local" capture, "notices" to the sink. */
function withNotices(s: SmtpSink, extra: Partial<ConfigInput['notices']> = {}) {
  return (c: ConfigInput): ConfigInput => ({
    ...c,
    appliance: { hostname: 'relay.contoso.test' },
    routes: [
      { name: 'local', type: 'capture', directory: join(sandbox.dir, 'outbox') },
      { name: 'broken', type: 'capture', directory: '/dev/null/x' },
      { name: 'notices', type: 'smtp', host: '127.0.0.1', port: s.port, tls: { mode: 'none' } },
    ],
    defaultRoute: 'broken',
    spool: { ...c.spool, maxAge: '300ms', retrySchedule: '20ms,20ms*50' },
    notices: { route: 'notices', from: 'postmaster@contoso.test', ...extra },
  });
}

async function deadCount(t: TestAppliance): Promise<number> {
  return (await t.app.spool.list('dead')).length;
}

/**
 * The message/delivery-status part of a raw report (mailparser folds it into `text`), split on the
 * boundary mailparser reported.
 */
function deliveryStatus(raw: Buffer, boundary: string): string {
  const part = raw
    .toString('utf8')
    .split(`--${boundary}`)
    .find((p) => /^\r?\nContent-Type: message\/delivery-status\r?\n/i.test(p));
  return (part ?? '').replace(/^\r?\nContent-Type: message\/delivery-status\r?\n\r?\n/i, '');
}

/** message/delivery-status as blocks of fields (per-message first, then one per recipient). */
function statusBlocks(text: string): Record<string, string>[] {
  return text
    .trim()
    .split(/\r?\n\r?\n/)
    .map((block) =>
      Object.fromEntries(
        block.split(/\r?\n/).map((l) => {
          const i = l.indexOf(':');
          return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
        }),
      ),
    );
}

describe('DSN on dead letter (RFC 3464)', () => {
  it('goes to the envelope sender with a null reverse path; every field parses back', async () => {
    const s = await sink();
    const t = await sandbox.start(withNotices(s));
    await sendMail(t.port, {
      from: 'scanner@contoso.test',
      to: ['alice@fabrikam.test', 'bob@fabrikam.test'],
      subject: 'scan 42',
      messageId: '<scan-42@mfp.contoso.test>',
    });
    await waitFor(() => (s.messages.length === 1 ? true : undefined), 10_000, 'DSN');
    const m = s.messages[0];
    expect(m?.mailFrom).toBe('');
    expect(m?.rcptTo).toEqual(['scanner@contoso.test']);
    const dsn = await simpleParser(m?.raw as Buffer);
    const ct = dsn.headers.get('content-type') as { value: string; params: Record<string, string> };
    expect(ct.value).toBe('multipart/report');
    expect(ct.params['report-type']).toBe('delivery-status');
    expect(dsn.headers.get('auto-submitted')).toBe('auto-replied');
    expect(dsn.from?.value[0]?.address).toBe('postmaster@contoso.test');
    expect(dsn.to && !Array.isArray(dsn.to) ? dsn.to.value[0]?.address : undefined).toBe(
      'scanner@contoso.test',
    );
    expect(dsn.inReplyTo).toBe('<scan-42@mfp.contoso.test>');
    expect(dsn.text).toMatch(/could not be delivered/);
    expect(dsn.text).toContain('scan 42');
    const headers = dsn.attachments.find((a) => a.contentType === 'text/rfc822-headers');
    expect(headers).toBeDefined();
    const [perMessage, ...perRecipient] = statusBlocks(
      deliveryStatus(m?.raw as Buffer, ct.params.boundary as string),
    );
    expect(perMessage?.['reporting-mta']).toBe('dns; relay.contoso.test');
    expect(Number.isNaN(Date.parse(perMessage?.['arrival-date'] ?? ''))).toBe(false);
    expect(perRecipient.map((r) => r['final-recipient']).sort()).toEqual([
      'rfc822; alice@fabrikam.test',
      'rfc822; bob@fabrikam.test',
    ]);
    for (const r of perRecipient) {
      expect(r.action).toBe('failed');
      expect(r.status).toMatch(/^5\.\d{1,3}\.\d{1,3}$/);
      expect(r['diagnostic-code']).toMatch(/^X-relaykit; RELAY_/);
      expect(Number.isNaN(Date.parse(r['last-attempt-date'] ?? ''))).toBe(false);
    }
    const original = headers?.content.toString('utf8') ?? '';
    expect(original).toMatch(/^Subject: scan 42$/m);
    expect(original).toMatch(/^Message-ID: <scan-42@mfp\.contoso\.test>$/im);
    expect(original).not.toMatch(/^hello$/m);
  });

  it('none for the null sender, Auto-Submitted mail or a report; the normal one gets exactly one', async () => {
    const s = await sink();
    const log = captureLog();
    const t = await sandbox.start(withNotices(s), { logger: log.logger });
    await sendMail(t.port, { envelope: { from: '', to: ['a@fabrikam.test'] }, subject: 'null sender' });
    await sendMail(t.port, { subject: 'auto', headers: { 'Auto-Submitted': 'auto-generated' } });
    await sendMail(t.port, {
      subject: 'a report',
      headers: { 'Content-Type': 'multipart/report; report-type=delivery-status; boundary="b"' },
      text: '--b\r\n\r\nx\r\n--b--',
    });
    await sendMail(t.port, { from: 'person@contoso.test', subject: 'normal' });
    await waitFor(async () => ((await deadCount(t)) === 4 ? true : undefined), 10_000, 'four dead letters');
    await t.app.notices.settled();
    await waitFor(() => (s.messages.length === 1 ? true : undefined), 10_000, 'one DSN');
    await t.app.engine.whenIdle();
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]?.rcptTo).toEqual(['person@contoso.test']);
    const skipped = log
      .lines()
      .filter((l) => l.event === 'dsn-skipped')
      .map((l) => l.reason);
    expect(skipped.sort()).toEqual([
      'Auto-Submitted: auto-generated',
      'it is itself a report',
      'null sender',
    ]);
  });

  it('a DSN that cannot be delivered is dead-lettered once and never answered', async () => {
    const s = await sink();
    const t = await sandbox.start((c) => ({
      ...withNotices(s)(c),
      notices: { route: 'broken', from: 'postmaster@contoso.test' },
    }));
    await sendMail(t.port, { from: 'scanner@contoso.test', subject: 'loop bait' });
    await waitFor(
      async () => ((await deadCount(t)) === 2 ? true : undefined),
      10_000,
      'message and DSN dead',
    );
    await t.app.notices.settled();
    await t.app.engine.whenIdle();
    await t.app.notices.settled();
    expect(await deadCount(t)).toBe(2);
    const dead = await t.app.spool.list('dead');
    expect(dead.map((e) => e.header.envelope.mailFrom).sort()).toEqual(['', 'scanner@contoso.test']);
  });

  it('a delay DSN (Action: delayed, Will-Retry-Until) goes once while the message keeps being retried', async () => {
    const s = await sink();
    const t = await sandbox.start((c) => ({
      ...withNotices(s, { dsn: { delayAfter: '100ms' } })(c),
      routes: [
        ...(withNotices(s)(c).routes ?? []),
        // Nothing listens on port 9 of loopback: connection refused, a transient failure each time.
        {
          name: 'down',
          type: 'smtp',
          host: '127.0.0.1',
          port: 9,
          tls: { mode: 'none' },
          connectionTimeout: '1s',
        },
      ],
      defaultRoute: 'down',
      spool: { ...c.spool, maxAge: '1h', retrySchedule: '30ms,30ms*100' },
    }));
    await sendMail(t.port, { from: 'scanner@contoso.test', to: 'alice@fabrikam.test', subject: 'slow one' });
    await waitFor(() => (s.messages.length === 1 ? true : undefined), 10_000, 'delay DSN');
    const before = await t.app.metrics.get('relaykit_deferred_total', { route: 'down' });
    await waitFor(async () =>
      (await t.app.metrics.get('relaykit_deferred_total', { route: 'down' })) >= before + 5
        ? true
        : undefined,
    );
    await t.app.notices.settled();
    expect(s.messages).toHaveLength(1);
    const dsn = await simpleParser(s.messages[0]?.raw as Buffer);
    const ct = dsn.headers.get('content-type') as { params: Record<string, string> };
    expect(dsn.subject).toMatch(/Delayed Mail/);
    const [, r] = statusBlocks(deliveryStatus(s.messages[0]?.raw as Buffer, ct.params.boundary as string));
    expect(r).toMatchObject({ 'final-recipient': 'rfc822; alice@fabrikam.test', action: 'delayed' });
    expect(r?.status).toMatch(/^4\.\d+\.\d+$/);
    expect(Number.isNaN(Date.parse(r?.['will-retry-until'] ?? ''))).toBe(false);
    expect((await t.app.spool.depthAndOldest()).depth).toBe(1);
  });
});

describe('operator alerts', () => {
  it('1,000 dead letters over an hour make at most 5 alert messages whose counts add up to 1,000', () => {
    let now = 0;
    const sent: AlertMessage[] = [];
    const g = new AlertGrouper({
      interval: 15 * 60_000,
      maxPerInterval: 5,
      now: () => now,
      send: (m) => sent.push(m),
      appliance: 'relay',
    });
    for (let i = 0; i < 1000; i++) {
      now = i * 3600; // one every 3.6 s for an hour
      g.raise({ kind: 'dead-letter', key: 'all', text: `message ${i} dead-lettered` });
      if (i % 17 === 0) g.flush();
    }
    now = 3_600_000;
    g.flush();
    expect(sent.length).toBeLessThanOrEqual(5);
    expect(sent.reduce((n, m) => n + m.count, 0)).toBe(1000);
    expect(sent[0]).toMatchObject({ count: 1, text: 'message 0 dead-lettered' });
    expect(sent.at(-1)?.title).toMatch(/mail dead-lettered ×\d+/);
  });

  it('a budget of maxPerInterval holds across kinds; the held ones go out later as summaries', () => {
    let now = 0;
    const sent: AlertMessage[] = [];
    const g = new AlertGrouper({
      interval: 60_000,
      maxPerInterval: 2,
      now: () => now,
      send: (m) => sent.push(m),
      appliance: 'r',
    });
    for (const key of ['a', 'b', 'c', 'd']) g.raise({ kind: 'route-failing', key, text: key });
    expect(sent.map((m) => m.key)).toEqual(['a', 'b']);
    now = 60_000;
    g.flush();
    expect(sent.map((m) => m.key)).toEqual(['a', 'b', 'c', 'd']);
  });

  const summary: AlertMessage = {
    kind: 'route-failing',
    key: 'm365',
    title: 'relaykit relay.contoso.test: route failing (m365) ×3',
    text: 'route m365 (graph) failing since 2026-01-05T10:00:00.000Z: RELAY_TOKEN_FAILED invalid_client',
    hint: 'check the client secret',
    count: 3,
    firstAt: '2026-01-05T10:00:00.000Z',
    lastAt: '2026-01-05T10:15:00.000Z',
  };

  it('Teams: exactly the message activity a Workflows "webhook request received" flow posts as a card', () => {
    // Shape from learn.microsoft.com "Send Adaptive Cards using an Incoming Webhook" / "Microsoft Teams -
    // Webhook" trigger: the flow loops over `attachments` and posts each Adaptive Card `content`.
    expect(
      webhookBody(summary, 'teams', { appliance: 'relay.contoso.test', version: '1.2.3' }),
    ).toStrictEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              {
                type: 'TextBlock',
                text: 'relaykit relay.contoso.test: route failing (m365) ×3',
                weight: 'Bolder',
                size: 'Medium',
                wrap: true,
              },
              {
                type: 'TextBlock',
                text: 'route m365 (graph) failing since 2026-01-05T10:00:00.000Z: RELAY_TOKEN_FAILED invalid_client',
                wrap: true,
              },
              { type: 'TextBlock', text: 'Hint: check the client secret', wrap: true },
              { type: 'TextBlock', text: '3 alerts since 2026-01-05T10:00:00.000Z', wrap: true },
            ],
          },
        },
      ],
    });
  });

  it('Slack: {"text"} only; json: the alert with the appliance and version', () => {
    const meta = { appliance: 'relay.contoso.test', version: '1.2.3' };
    expect(webhookBody(summary, 'slack', meta)).toStrictEqual({
      text:
        '*relaykit relay.contoso.test: route failing (m365) ×3*\n' +
        'route m365 (graph) failing since 2026-01-05T10:00:00.000Z: RELAY_TOKEN_FAILED invalid_client\n' +
        'Hint: check the client secret\n3 alerts since 2026-01-05T10:00:00.000Z',
    });
    expect(webhookBody(summary, 'json', meta)).toStrictEqual({
      ...summary,
      appliance: 'relay.contoso.test',
      version: '1.2.3',
    });
  });

  async function webhookServer(answer: Parameters<typeof startWebhook>[0]) {
    const hook = await startWebhook(answer);
    closers.push(() => hook.close());
    return hook;
  }

  it('a failing route raises exactly one webhook alert (Teams card) however often it is looked at', async () => {
    const hook = await webhookServer(() => 202);
    const t = await sandbox.start(
      (c) => ({
        ...c,
        routes: [{ name: 'down', type: 'smtp', host: '127.0.0.1', port: 9, tls: { mode: 'none' } }],
        defaultRoute: 'down',
        spool: { ...c.spool, retrySchedule: '20ms,20ms*100' },
        notices: { alerts: { webhook: { url: hook.url, format: 'teams' }, routeFailingAfter: '0s' } },
      }),
      { alertCheckInterval: 20 },
    );
    await sendMail(t.port, { subject: 'stuck' });
    await waitFor(
      () => (t.app.routeStates.get('down')?.state === 'failing' ? true : undefined),
      10_000,
      'failing',
    );
    await waitFor(() => (hook.bodies.length >= 1 ? true : undefined), 10_000, 'webhook');
    for (let i = 0; i < 5; i++) await t.app.notices.check();
    await t.app.notices.settled();
    // Only alerts about this route count (a loaded CI machine may add an unrelated disk alert).
    const about = hook.bodies.filter((b) => JSON.stringify(b).includes('route failing (down)'));
    expect(about, JSON.stringify(hook.bodies)).toHaveLength(1);
    const card = about[0] as {
      type: string;
      attachments: { contentType: string; content: { type: string; body: { text: string }[] } }[];
    };
    expect(card.type).toBe('message');
    expect(card.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.attachments[0]?.content.type).toBe('AdaptiveCard');
    expect(card.attachments[0]?.content.body[0]?.text).toMatch(/route failing \(down\)/);
    expect(card.attachments[0]?.content.body[1]?.text).toMatch(/RELAY_NETWORK/);
    expect((await t.app.spool.depthAndOldest()).depth).toBe(1);
  });

  it('the alert check leaves out the per-folder bytes (a stat of every queued file); /status keeps them', async () => {
    const t = await sandbox.start((c) => ({
      ...c,
      routes: [{ name: 'down', type: 'smtp', host: '127.0.0.1', port: 9, tls: { mode: 'none' } }],
      defaultRoute: 'down',
      spool: { ...c.spool, retrySchedule: '1h' },
    }));
    for (let i = 0; i < 3; i++) await sendMail(t.port, { subject: `queued ${i}` });
    expect((await t.app.spool.depthAndOldest()).depth).toBe(3);
    const full = await t.app.healthModel.snapshot();
    expect(full.disk.folders?.queue).toBeGreaterThan(0);
    const lean = await t.app.healthModel.snapshot({ folders: false });
    expect(lean.disk.folders).toBeUndefined();
    expect(lean.queue.depth).toBe(3);
    const looks = vi.spyOn(t.app.healthModel, 'snapshot');
    await t.app.notices.check();
    expect(looks.mock.calls).toEqual([[{ folders: false }]]);
  });

  it('a webhook that hangs is abandoned at its timeout and never holds up delivery', async () => {
    const hook = await webhookServer(() => 'hang');
    const log = captureLog();
    const t = await sandbox.start(
      (c) => ({
        ...c,
        routes: [
          { name: 'local', type: 'capture', directory: join(sandbox.dir, 'outbox') },
          { name: 'broken', type: 'capture', directory: '/dev/null/x' },
        ],
        rules: [{ name: 'to-broken', match: { recipient: ['*@broken.test'] }, action: { route: 'broken' } }],
        notices: { alerts: { webhook: { url: hook.url, format: 'json', timeout: '300ms' } } },
      }),
      { logger: log.logger },
    );
    await sendMail(t.port, { to: 'x@broken.test', subject: 'dead one' });
    await waitFor(() => (hook.bodies.length === 1 ? true : undefined), 10_000, 'webhook called');
    // While the webhook hangs, other mail flows.
    for (let i = 0; i < 3; i++) await sendMail(t.port, { to: 'alice@contoso.test', subject: `flowing ${i}` });
    await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 3 ? true : undefined,
    );
    await waitFor(() =>
      log.lines().some((l) => l.event === 'alert-webhook' && /abort|timeout/i.test(String(l.reason)))
        ? true
        : undefined,
    );
    expect(hook.bodies[0]).toMatchObject({ kind: 'dead-letter', key: 'all', count: 1 });
  });
});
