// The Graph transport against the Entra and Graph simulators over HTTPS (test CA), driving
// deliver(job) on spool-like message files: both delivery paths, recipients, encodings, sizes,
// throttling, tokens and the classification of permanent errors.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Harness,
  job,
  sha256,
  startHarness,
  withHarness,
  writeBlob,
  writeMessage,
  writeWithAttachment,
} from '../../../helpers/sim/graph-harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    // The rate limit is exercised on its own below; here it would only slow the suite down.
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [
      { address: 'scanner@contoso.com' },
      { address: 'printer@contoso.com', sendAs: ['noreply@contoso.com'] },
      { address: 'small@contoso.com', maxSendSize: 5 * 1024 * 1024 },
      { address: 'onprem@contoso.com', restEnabled: false },
      { address: 'blocked@contoso.com', odataBlocked: true },
    ],
  });
});
afterAll(async () => {
  await h.close();
});

const last = () => h.graph.delivered[h.graph.delivered.length - 1];

describe('small messages: MIME sendMail', () => {
  it('delivers a plain-text message through sendMail with one token for many messages', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const before = h.entra.issued.length;
    for (let i = 0; i < 3; i++) {
      const msg = await writeMessage(h.dir, `plain-${i}`, {
        from: 'scanner@contoso.com',
        to: 'alice@contoso.com',
        subject: `Scan ${i}`,
        text: 'Your scan is attached.',
      });
      const out = await t.deliver(job(msg));
      expect(out.kind).toBe('delivered');
    }
    const got = last();
    expect(got?.via).toBe('sendMail');
    expect(got?.subject).toBe('Scan 2');
    expect(got?.to).toEqual(['alice@contoso.com']);
    expect(got?.text?.trim()).toBe('Your scan is attached.');
    expect(h.entra.issued.length - before).toBe(1);
  });

  it('keeps HTML, inline images and attachments intact', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const pdf = Buffer.alloc(50_000, 7);
    const msg = await writeMessage(h.dir, 'html', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: 'Report',
      html: '<p>Hello <img src="cid:logo@x"></p>',
      attachments: [
        { filename: 'logo.png', content: png, cid: 'logo@x' },
        { filename: 'report.pdf', content: pdf },
      ],
    });
    expect((await t.deliver(job(msg))).kind).toBe('delivered');
    const got = last();
    expect(got?.html).toContain('cid:logo@x');
    expect(got?.attachments.map((a) => [a.name, a.size, a.sha256])).toEqual([
      ['logo.png', png.length, sha256(png)],
      ['report.pdf', pdf.length, sha256(pdf)],
    ]);
  });

  it('adds envelope-only recipients as Bcc', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'bcc', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: 'Bcc',
      text: 'x',
    });
    const out = await t.deliver(
      job(msg, { recipients: ['alice@contoso.com', 'hidden@contoso.com', 'audit@fabrikam.com'] }),
    );
    expect(out.kind).toBe('delivered');
    const got = last();
    expect(got?.to).toEqual(['alice@contoso.com']);
    expect(got?.bcc).toEqual(['hidden@contoso.com', 'audit@fabrikam.com']);
  });

  it('delivers a message whose only recipients are Bcc (no To/Cc at all)', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'bcc-only', {
      from: 'scanner@contoso.com',
      subject: 'nobody visible',
      text: 'x',
    });
    const out = await t.deliver(job(msg, { recipients: ['a@contoso.com', 'b@contoso.com'] }));
    expect(out.kind).toBe('delivered');
    expect(last()?.recipients).toEqual(['a@contoso.com', 'b@contoso.com']);
    expect(last()?.to).toEqual([]);
  });

  it('keeps non-ASCII headers and bodies', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'utf8', {
      from: { name: 'Jürgen Größe', address: 'scanner@contoso.com' },
      to: { name: '山田 太郎', address: 'alice@contoso.com' },
      subject: 'Grüße – 日本語の件名 ✓',
      text: 'Fünf Äpfel, 東京',
    });
    expect((await t.deliver(job(msg))).kind).toBe('delivered');
    expect(last()?.subject).toBe('Grüße – 日本語の件名 ✓');
    expect(last()?.text?.trim()).toBe('Fünf Äpfel, 東京');
  });

  it('sends a 2 MB message in one sendMail request under the 4 MB limit', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const blob = await writeBlob(h.dir, 'two.bin', 1_450_000);
    const msg = await writeMessage(h.dir, 'two-mb', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: '2 MB',
      text: 'x',
      attachments: [{ filename: 'two.bin', path: blob.path }],
    });
    expect(msg.length).toBeGreaterThan(1_950_000);
    expect((await t.deliver(job(msg))).kind).toBe('delivered');
    expect(last()?.via).toBe('sendMail');
    expect(last()?.attachments[0]?.sha256).toBe(blob.sha256);
  });
});

describe('large messages: draft, attachments, upload sessions, send', () => {
  it('sends a 10 MB message through an upload session and leaves no draft', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const big = await writeBlob(h.dir, 'ten.bin', 9 * 1024 * 1024);
    const small = Buffer.alloc(100_000, 1);
    const chunksBefore = h.graph.stats.uploadChunks;
    const msg = await writeMessage(h.dir, 'ten-mb', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      cc: 'carol@contoso.com',
      subject: 'Grüße 10 MB',
      html: '<b>big</b>',
      headers: { 'X-Device': 'MFP-3', 'In-Reply-To': '<a@b>' },
      attachments: [
        { filename: 'ten.bin', path: big.path },
        { filename: 'small.txt', content: small },
      ],
    });
    const out = await t.deliver(
      job(msg, { recipients: ['alice@contoso.com', 'carol@contoso.com', 'dave@contoso.com'] }),
    );
    expect(out).toMatchObject({ kind: 'delivered' });
    const got = last();
    expect(got?.via).toBe('draft');
    expect(got?.subject).toBe('Grüße 10 MB');
    expect(got?.html).toContain('<b>big</b>');
    expect(got?.to).toEqual(['alice@contoso.com']);
    expect(got?.cc).toEqual(['carol@contoso.com']);
    expect(got?.bcc).toEqual(['dave@contoso.com']);
    expect(got?.headers['x-device']).toBe('MFP-3');
    expect(got?.attachments.map((a) => [a.name, a.size, a.sha256])).toEqual([
      ['ten.bin', 9 * 1024 * 1024, big.sha256],
      ['small.txt', small.length, sha256(small)],
    ]);
    // 9 MiB in chunks of at most 4 MB (reference A3: "At most 4 MB per chunk") takes 3 PUTs, no more.
    expect(h.graph.stats.uploadChunks - chunksBefore).toBe(3);
    expect(h.graph.stats.largestRequest).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(h.graph.openDrafts).toBe(0);
  });

  it('sends a 100 MB message streamed from the spool file', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    h.graph.addMailbox({ address: 'bigsender@contoso.com', maxSendSize: 150 * 1024 * 1024 });
    const big = await writeBlob(h.dir, 'hundred.bin', 100 * 1024 * 1024);
    const msg = await writeMessage(h.dir, 'hundred-mb', {
      from: 'bigsender@contoso.com',
      to: 'alice@contoso.com',
      subject: '100 MB',
      text: 'big one',
      attachments: [{ filename: 'hundred.bin', path: big.path }],
    });
    expect(msg.length).toBeGreaterThan(130 * 1024 * 1024);
    const out = await t.deliver(job(msg, { mailFrom: 'bigsender@contoso.com' }));
    expect(out.kind).toBe('delivered');
    expect(last()?.attachments[0]).toMatchObject({
      name: 'hundred.bin',
      size: 100 * 1024 * 1024,
      sha256: big.sha256,
    });
    expect(h.graph.stats.largestRequest).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('sends to this leg only when To/Cc name recipients served elsewhere', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'split', {
      from: 'scanner@contoso.com',
      to: ['alice@contoso.com', 'external@fabrikam.com'],
      subject: 'split',
      text: 'x',
    });
    expect((await t.deliver(job(msg, { recipients: ['alice@contoso.com'] }))).kind).toBe('delivered');
    expect(last()?.via).toBe('draft');
    expect(last()?.recipients).toEqual(['alice@contoso.com']);
  });
});

describe('which mailbox sends', () => {
  it('sends through the route mailbox and rewrites From when asked', async () => {
    const t = h.transport({ mailbox: 'printer@contoso.com', rewriteFrom: true, messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'fixed', {
      from: 'mfp@device.local',
      to: 'alice@contoso.com',
      subject: 'fixed',
      text: 'x',
    });
    expect((await t.deliver(job(msg, { mailFrom: 'mfp@device.local' }))).kind).toBe('delivered');
    expect(last()?.mailbox).toBe('printer@contoso.com');
    expect(last()?.from).toBe('printer@contoso.com');
    expect(last()?.headers['reply-to']).toContain('mfp@device.local');
  });

  it('lets job.sendAs win over the route mailbox', async () => {
    const t = h.transport({ mailbox: 'printer@contoso.com', messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'sendas', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: 's',
      text: 'x',
    });
    expect((await t.deliver(job(msg, { sendAs: 'scanner@contoso.com' }))).kind).toBe('delivered');
    expect(last()?.mailbox).toBe('scanner@contoso.com');
  });

  it('refuses a bounce (null sender) without a fixed mailbox', async () => {
    const t = h.transport();
    const msg = await writeMessage(h.dir, 'bounce', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    const out = await t.deliver(job(msg, { mailFrom: '' }));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_GRAPH_NO_MAILBOX' });
  });
});

describe('permanent errors carry the operator hint', () => {
  it('ErrorSendAsDenied names the permission to grant', async () => {
    const t = h.transport({ mailbox: 'printer@contoso.com', messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'denied', {
      from: 'ceo@contoso.com',
      to: 'alice@contoso.com',
      subject: 'x',
      text: 'x',
    });
    const out = await t.deliver(job(msg));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_GRAPH_SEND_AS_DENIED' });
    expect(out.kind === 'permanent' && out.hint).toContain('SendAs');
  });

  it('MailboxNotEnabledForRESTAPI and OData-disabled mailboxes', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const m1 = await writeMessage(h.dir, 'onprem', {
      from: 'onprem@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    expect(await t.deliver(job(m1, { mailFrom: 'onprem@contoso.com' }))).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_GRAPH_MAILBOX_NOT_ENABLED',
      hint: expect.stringContaining('Exchange Online mailbox'),
    });
    const m2 = await writeMessage(h.dir, 'blocked', {
      from: 'blocked@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    expect(await t.deliver(job(m2, { mailFrom: 'blocked@contoso.com' }))).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_GRAPH_ACCESS_DENIED',
      hint: expect.stringContaining('ApplicationAccessPolicy'),
    });
  });

  it('ErrorMessageSizeExceeded says MaxSendSize and deletes the draft', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const { msg } = await writeWithAttachment(h.dir, 'too-big', 6 * 1024 * 1024, 'small@contoso.com');
    const deleted = h.graph.stats.draftsDeleted;
    const out = await t.deliver(job(msg, { mailFrom: 'small@contoso.com' }));
    expect(out).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
      fallbackEligible: true,
    });
    expect(out.kind === 'permanent' && out.hint).toContain('MaxSendSize');
    expect(h.graph.stats.draftsDeleted).toBe(deleted + 1);
    expect(h.graph.openDrafts).toBe(0);
  });

  it('names Mail.ReadWrite when the app lacks it on the large path', async () => {
    await withHarness({ roles: ['Mail.Send'] }, async (h2) => {
      const { msg } = await writeWithAttachment(h2.dir, 'rw', 4 * 1024 * 1024);
      const out = await h2.transport().deliver(job(msg));
      expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_GRAPH_PERMISSION_MISSING' });
      expect(out.kind === 'permanent' && out.hint).toContain('Mail.ReadWrite');
    });
  });
});

describe('limits, throttling and duplicates', () => {
  it('never exceeds 4 concurrent requests per mailbox and rides out a 429 storm', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    h.graph.addMailbox({ address: 'storm@contoso.com' });
    for (let i = 0; i < 6; i++) {
      h.graph.inject({
        op: 'sendMail',
        mailbox: 'storm@contoso.com',
        status: 429,
        code: 'ApplicationThrottled',
        headers: { 'RETRY-AFTER': '1' },
      });
    }
    const over = h.graph.stats.overConcurrency;
    const msgs = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        writeMessage(h.dir, `storm-${i}`, {
          from: 'storm@contoso.com',
          to: 'alice@contoso.com',
          subject: `s${i}`,
          text: 'x',
        }),
      ),
    );
    const started = Date.now();
    const outs = await Promise.all(msgs.map((m) => t.deliver(job(m, { mailFrom: 'storm@contoso.com' }))));
    expect(outs.every((o) => o.kind === 'delivered')).toBe(true);
    expect(h.graph.stats.overConcurrency).toBe(over);
    expect(
      h.graph.stats.maxInFlight.get(`${'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'}|storm@contoso.com`),
    ).toBeLessThanOrEqual(4);
    expect(t.peakConcurrency).toBeLessThanOrEqual(4);
    // Retry-After: 1 s was honoured (the mailbox paused).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('paces a mailbox to messagesPerMinute', async () => {
    const t = h.transport({ messagesPerMinute: 120 });
    h.graph.addMailbox({ address: 'paced@contoso.com' });
    const msgs = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        writeMessage(h.dir, `paced-${i}`, { from: 'paced@contoso.com', to: 'alice@contoso.com', text: 'x' }),
      ),
    );
    const started = Date.now();
    await Promise.all(msgs.map((m) => t.deliver(job(m, { mailFrom: 'paced@contoso.com' }))));
    // 5 messages at 2 per second: the last starts no earlier than 4 intervals of 500 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });

  it("waits out the service's per-minute message limit (429 + Retry-After)", async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    h.graph.addMailbox({ address: 'ratelimited@contoso.com' });
    h.graph.messagesPerMinute = 3;
    try {
      const msg = await writeMessage(h.dir, 'rl', {
        from: 'ratelimited@contoso.com',
        to: 'alice@contoso.com',
        text: 'x',
      });
      const over = h.graph.stats.overRate;
      const outs = [];
      for (let i = 0; i < 3; i++)
        outs.push(await t.deliver(job(msg, { mailFrom: 'ratelimited@contoso.com' })));
      expect(outs.every((o) => o.kind === 'delivered')).toBe(true);
      // The fourth gets 429 with Retry-After ~60 s: longer than this route waits in-attempt, so
      // the wait goes back to the engine as retryAfterMs.
      const t2 = h.transport({ messagesPerMinute: 6000, maxRetryAfter: '5s' });
      const out = await t2.deliver(job(msg, { mailFrom: 'ratelimited@contoso.com' }));
      expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_THROTTLED' });
      expect(out.kind === 'transient' && out.retryAfterMs).toBeGreaterThan(50_000);
      expect(h.graph.stats.overRate).toBe(over + 1);
    } finally {
      h.graph.messagesPerMinute = 100_000;
    }
  });

  it('returns a long Retry-After to the engine instead of waiting', async () => {
    const t = h.transport({ messagesPerMinute: 6000, maxRetryAfter: '2s' });
    h.graph.inject({
      op: 'sendMail',
      status: 429,
      code: 'ApplicationThrottled',
      headers: { 'retry-after': '300' },
    });
    const msg = await writeMessage(h.dir, 'long-ra', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    expect(await t.deliver(job(msg))).toMatchObject({
      kind: 'transient',
      code: 'RELAY_THROTTLED',
      retryAfterMs: 300_000,
    });
  });

  it('marks a 504 after sendMail as a possible duplicate', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    h.graph.inject({ op: 'sendMail', status: 504, code: 'GatewayTimeout', afterSuccess: true });
    const msg = await writeMessage(h.dir, 'gw', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    const n = h.graph.delivered.length;
    const out = await t.deliver(job(msg));
    expect(out).toMatchObject({ kind: 'transient', possibleDuplicate: true });
    expect(h.graph.delivered.length).toBe(n + 1);
  });

  it('times out a hung request and marks it a possible duplicate', async () => {
    // 3 s per request: the draft, session and 3.5 MB chunk answer well inside it; only the hung send
    // reaches it, and the outcome names that step.
    const t = h.transport({ messagesPerMinute: 6000, requestTimeout: '3s' });
    h.graph.inject({ op: 'send', hang: true });
    const { msg } = await writeWithAttachment(h.dir, 'hang', 3_500_000);
    const out = await t.deliver(job(msg));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_TIMEOUT', possibleDuplicate: true });
    expect(out.kind === 'transient' && out.reason).toMatch(/^send: no answer within 3000 ms/);
  });
});

describe('tokens', () => {
  it('refreshes before expiry and recovers when Graph rejects an expired token', async () => {
    // Injected clocks, no waiting: the relay's (token source and transport) and Graph's (Entra sim).
    let relayOffset = 0;
    let graphOffset = 0;
    await withHarness({ now: () => Date.now() + relayOffset }, async (h3) => {
      h3.entra.now = () => Date.now() + graphOffset + relayOffset;
      // 120 s: short enough that msal-node never serves the token from its own cache (it renews
      // anything within 5 minutes of expiry), so every refresh the relay decides on reaches Entra.
      h3.entra.tokenLifetimeSec = 120;
      const t = h3.transport({ messagesPerMinute: 6000 });
      const msg = await writeMessage(h3.dir, 'tok', {
        from: 'scanner@contoso.com',
        to: 'alice@contoso.com',
        text: 'x',
      });
      const send = async () => expect((await t.deliver(job(msg))).kind).toBe('delivered');
      await send();
      expect(h3.entra.issued).toHaveLength(1);
      relayOffset += 60_000; // half-way through the token's life: the cached token is used
      await send();
      expect(h3.entra.issued).toHaveLength(1);
      relayOffset += 35_000; // 95 s: inside the last quarter, refreshed before it expires
      await send();
      expect(h3.entra.issued).toHaveLength(2);
      expect(h3.graph.stats.unauthorized).toBe(0);
      // Graph's clock runs 200 s ahead: the token the relay holds is expired there. Graph answers
      // 401; the transport fetches a new token once and the message still goes in this attempt.
      graphOffset = 200_000;
      await send();
      expect(h3.graph.stats.unauthorized).toBe(1);
      expect(h3.entra.issued).toHaveLength(3);
      expect(h3.graph.delivered).toHaveLength(4);
    });
  });

  it('picks up a rotated client secret after Entra refuses the old one', async () => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const msg = await writeMessage(h.dir, 'rot', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      text: 'x',
    });
    expect((await t.deliver(job(msg))).kind).toBe('delivered');
    await writeFile(join(h.dir, 'secret.txt'), 'relay-secret-2\n');
    h.entra.rotateSecret(
      '11111111-2222-3333-4444-555555555555',
      'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      'relay-secret-2',
    );
    h.entra.expireIssuedTokens();
    const out = await t.deliver(job(msg));
    expect(out.kind).toBe('delivered');
    expect(h.entra.refused.some((r) => r.code === 'AADSTS7000215')).toBe(true);
  });
});

describe('simulator limits the transport must respect', () => {
  it('an expired upload session ends the attempt as transient and removes the draft', async () => {
    await withHarness({ graph: { uploadSessionTtlMs: 0 } }, async (h2) => {
      const { msg } = await writeWithAttachment(h2.dir, 'exp', 3_200_000);
      const out = await h2.transport().deliver(job(msg));
      expect(out).toMatchObject({
        kind: 'transient',
        hint: expect.stringContaining('upload session expired'),
      });
      expect(h2.graph.openDrafts).toBe(0);
    });
  });

  it('a sendMail request over 4 MB gets 413, classified with the setting to change', async () => {
    await withHarness({}, async (h2) => {
      const { msg } = await writeWithAttachment(h2.dir, 'over', 3_300_000);
      const out = await h2.transport({ sendMailMaxSize: '5MB' }).deliver(job(msg));
      expect(out).toMatchObject({
        kind: 'permanent',
        code: 'RELAY_GRAPH_REQUEST_TOO_LARGE',
        hint: expect.stringContaining('sendMailMaxSize'),
      });
      expect(h2.graph.stats.status413).toBe(1);
    });
  });
});
