// What the Graph transport does with a body too large for a draft request (reference A3: the body
// travels in the draft request, ~4 MB at most; only attachments use upload sessions): refuse before
// any request, fallback-eligible, naming the limit; or, with oversizeBody: attach, send the body as an
// attachment under a short note. And a leg over the per-message recipient limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, job, startHarness, writeMessage } from '../../../helpers/sim/graph-harness.ts';

const MiB = 1024 * 1024;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [{ address: 'scanner@contoso.com', maxSendSize: 150 * MiB }],
  });
});
afterAll(async () => {
  await h.close();
});

const big = (name: string, html: boolean) =>
  writeMessage(h.dir, name, {
    from: 'scanner@contoso.com',
    to: 'alice@contoso.com',
    subject: name,
    [html ? 'html' : 'text']: `${'x'.repeat(74)}\r\n`.repeat(Math.ceil((4 * MiB) / 76)),
  });

describe('Graph body over maxBodySize', () => {
  it('is refused before any request, fallback-eligible, naming the draft-request limit', async () => {
    const requests = h.graph.stats.requests;
    const out = await h.transport().deliver(job(await big('body-refused', false)));
    expect(out).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_GRAPH_BODY_TOO_LARGE',
      fallbackEligible: true,
    });
    if (out.kind !== 'permanent') return;
    expect(out.reason).toContain('at most 3145728');
    expect(out.hint).toContain('oversizeBody: attach');
    expect(h.graph.stats.requests).toBe(requests);
  });

  it('with oversizeBody: attach goes as message.html under a short note, the upload session carrying it', async () => {
    const out = await h.transport({ oversizeBody: 'attach' }).deliver(job(await big('body-attached', true)));
    expect(out.kind).toBe('delivered');
    const got = h.graph.delivered.find((d) => d.subject === 'body-attached');
    expect(got?.text).toMatch(
      /^The body of this message \(\d+ bytes\) is larger than Microsoft Graph accepts/,
    );
    expect(got?.attachments).toEqual([
      expect.objectContaining({ name: 'message.html', contentType: 'text/html; charset=utf-8' }),
    ]);
    expect(got?.attachments[0]?.size).toBeGreaterThan(4 * MiB);
    expect(h.graph.stats.status413).toBe(0);
  });

  it('a leg over maxRecipientsPerMessage is refused, fallback-eligible', async () => {
    const msg = await writeMessage(h.dir, 'many', {
      from: 'scanner@contoso.com',
      to: 'a@contoso.com',
      text: 'x',
    });
    const recipients = Array.from({ length: 501 }, (_, i) => `r${i}@contoso.com`);
    const out = await h.transport().deliver(job(msg, { recipients }));
    expect(out).toMatchObject({ kind: 'permanent', fallbackEligible: true });
    if (out.kind === 'permanent') expect(out.reason).toContain('at most 500');
  });
});
