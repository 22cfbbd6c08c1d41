// Pacing against the Graph simulator, counted at the simulator (issue 15, item 3): after a 429 with
// Retry-After the mailbox gets one request, then ramps back up; a request whose client-side timeout
// fired while the simulator still works on it keeps its slot until the simulator is done with it,
// so the simulator never sees more than the mailbox's 4 concurrent requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../../../appliance/src/delivery/transport.ts';
import { type Harness, job, startHarness, writeMessage } from '../../../helpers/sim/graph-harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [{ address: 'scanner@contoso.com' }, { address: 'printer@contoso.com' }],
  });
});
afterAll(async () => {
  await h.close();
});

const small = (name: string, from: string) =>
  writeMessage(h.dir, name, {
    from,
    to: 'alice@contoso.com',
    subject: name,
    text: 'paced',
  });

async function sendAll(
  t: ReturnType<Harness['transport']>,
  names: string[],
  from = 'scanner@contoso.com',
): Promise<DeliveryOutcome[]> {
  const msgs = await Promise.all(names.map((n) => small(n, from)));
  return Promise.all(msgs.map((m) => t.deliver(job(m, { mailFrom: from }))));
}

describe('Graph pacing, counted at the simulator', () => {
  it('after a Retry-After storm releases one request, waits for its answer, then ramps back', async () => {
    const t = h.transport({ messagesPerMinute: 10_000 });
    // Each request takes 50 ms at the service, so four overlap; the retries after the pause skip
    // message pacing and would all leave at once without the ramp.
    h.graph.latencyMs = 50;
    h.graph.stats.events.length = 0;
    h.graph.inject({
      op: 'sendMail',
      status: 429,
      code: 'ApplicationThrottled',
      message: 'Application is over its MailboxConcurrency limit.',
      headers: { 'Retry-After': '1' },
      times: 4,
    });
    const out = await sendAll(
      t,
      Array.from({ length: 12 }, (_, i) => `storm-${i}`),
    );
    expect(out.map((o) => o.kind)).toEqual(Array(12).fill('delivered'));
    const events = h.graph.stats.events;
    expect(Math.max(...events.map((e) => e.inFlight))).toBeLessThanOrEqual(4);
    expect(h.graph.stats.overConcurrency).toBe(0);
    // Everything after the last 429 was answered: first a lone request, answered before the next.
    const last429 = events.findLastIndex((e) => e.event === 'end' && e.status === 429);
    const after = events.slice(last429 + 1);
    const firstArrival = after.findIndex((e) => e.event === 'arrive');
    expect(after[firstArrival]).toMatchObject({ event: 'arrive', inFlight: 1 });
    expect(after[firstArrival + 1]).toMatchObject({ event: 'end', status: 202 });
    // Then two at once at most, then more: the window widens one success at a time.
    const inFlightAtArrival = after.filter((e) => e.event === 'arrive').map((e) => e.inFlight);
    expect(inFlightAtArrival[1]).toBeLessThanOrEqual(2);
    h.graph.latencyMs = 0;
  });

  it('requests timing out while the simulator holds them never let a fifth request in', async () => {
    const t = h.transport({ messagesPerMinute: 10_000, requestTimeout: '1s' });
    h.graph.latencyMs = 50;
    // Eight warm keep-alive connections (two mailboxes x 4): while scanner's four requests are
    // held, four sit idle, so a slot freed too early is reused at once.
    const warm = (from: string) =>
      sendAll(
        t,
        [0, 1, 2, 3].map((i) => `warm-${from}-${i}`),
        from,
      );
    const warmed = await Promise.all([warm('scanner@contoso.com'), warm('printer@contoso.com')]);
    expect(warmed.flat().filter((o) => o.kind !== 'delivered')).toEqual([]);
    h.graph.stats.events.length = 0;
    h.graph.stats.maxInFlight.clear();
    const deliveredBefore = h.graph.delivered.length;
    // Graph works on each of the first four for 1.6 s, past relaykit's 1 s timeout, and counts it
    // against the mailbox until then, whether or not relaykit still waits for the answer.
    h.graph.inject({ op: 'sendMail', holdMs: 1600, times: 4 });
    const out = await sendAll(
      t,
      Array.from({ length: 12 }, (_, i) => `held-${i}`),
    );
    const timedOut = out.filter((o) => o.kind === 'transient');
    expect(timedOut).toHaveLength(4);
    for (const o of timedOut) expect(o).toMatchObject({ code: 'RELAY_TIMEOUT', possibleDuplicate: true });
    expect(out.filter((o) => o.kind === 'delivered')).toHaveLength(8);
    expect(h.graph.stats.overConcurrency).toBe(0);
    expect(Math.max(...h.graph.stats.maxInFlight.values())).toBeLessThanOrEqual(4);
    // Graph carried out the held four too: 12 sent, which is why a timeout is a possible duplicate.
    expect(h.graph.delivered.length - deliveredBefore).toBe(12);
    // Nothing arrived while the four held requests filled the mailbox: the next arrival came only
    // after one of them ended.
    const events = h.graph.stats.events.filter((e) => e.key.endsWith('|scanner@contoso.com'));
    const fourth = events.findIndex((e) => e.event === 'arrive' && e.inFlight === 4);
    expect(events[fourth + 1]).toMatchObject({ event: 'end' });
    h.graph.latencyMs = 0;
  });
});
