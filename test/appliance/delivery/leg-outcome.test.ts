// What one outcome does to a leg, without an engine, a spool or a clock.
import { describe, expect, it } from 'vitest';
import { type LegPolicy, legOutcome } from '../../../appliance/src/delivery/leg-outcome.ts';
import type { Delivery } from '../../../appliance/src/spool/record.ts';

const MIN = 60_000;

function leg(patch: Partial<Delivery> = {}): Delivery {
  return {
    route: 'graph',
    recipients: ['a@contoso.com', 'b@contoso.com'],
    rule: 'default',
    status: 'pending',
    attempts: [],
    nextAttemptAt: 0,
    ...patch,
  } as Delivery;
}

function policy(patch: Partial<LegPolicy> = {}): LegPolicy {
  return {
    started: 10 * MIN,
    now: 10 * MIN + 250,
    receivedAt: 0,
    schedule: [1 * MIN, 5 * MIN, 5 * MIN, 30 * MIN],
    maxAge: 5 * 24 * 60 * MIN,
    maxRetryAfter: 15 * MIN,
    fallbackOf: (route) => (route === 'graph' ? 'acs' : undefined),
    ...patch,
  };
}

describe('legOutcome', () => {
  it('a delivered leg is done, counted and traced', () => {
    const u = legOutcome(leg(), { kind: 'delivered', detail: '202', remoteId: 'r1' }, policy());
    expect(u.next.status).toBe('delivered');
    expect(u.next.attempts).toEqual([
      {
        at: new Date(10 * MIN).toISOString(),
        route: 'graph',
        outcome: 'delivered',
        durationMs: 250,
        reason: '202',
        remoteId: 'r1',
      },
    ]);
    expect(u.counts).toEqual([{ metric: 'relaykit_delivered_total', labels: { route: 'graph' } }]);
    expect(u.trace).toEqual({ event: 'delivered', route: 'graph', detail: '202', remoteId: 'r1' });
  });

  it('recipients refused inside a delivered leg split into a retried leg and a dead one', () => {
    const u = legOutcome(
      leg({ recipients: ['a@x', 'b@x', 'c@x'] }),
      {
        kind: 'delivered',
        detail: '250',
        failedRecipients: [
          { recipient: 'b@x', outcome: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', reason: '451 busy' },
          { recipient: 'c@x', outcome: 'permanent', code: 'RELAY_SMTP_REJECTED', reason: '550 no such user' },
        ],
      },
      policy(),
    );
    expect(u.next.recipients).toEqual(['a@x']);
    expect(u.extra.map((d) => [d.status, d.recipients])).toEqual([
      ['pending', ['b@x']],
      ['dead', ['c@x']],
    ]);
    expect(u.extra[0]?.status === 'pending' && u.extra[0].nextAttemptAt).toBe(10 * MIN + 250 + 1 * MIN);
    expect(u.extra[1]?.deadReason).toBe('c@x: RELAY_SMTP_REJECTED: 550 no such user');
  });

  it('a transient failure waits for the schedule step of its failure count', () => {
    const earlier = leg({
      attempts: [
        { at: 'x', route: 'graph', outcome: 'transient', durationMs: 1, reason: 'r', code: 'RELAY_NETWORK' },
      ],
    });
    const u = legOutcome(
      earlier,
      { kind: 'transient', code: 'RELAY_NETWORK', reason: 'ECONNRESET' },
      policy(),
    );
    // Second transient failure: the schedule's second step (5 min).
    expect(u.next.status === 'pending' && u.next.nextAttemptAt).toBe(10 * MIN + 250 + 5 * MIN);
    expect(u.counts).toEqual([{ metric: 'relaykit_deferred_total', labels: { route: 'graph' } }]);
  });

  it('a Retry-After longer than spool.maxRetryAfter is capped', () => {
    const u = legOutcome(
      leg(),
      { kind: 'transient', code: 'RELAY_THROTTLED', reason: '429', retryAfterMs: 60 * MIN },
      policy(),
    );
    expect(u.next.status === 'pending' && u.next.nextAttemptAt).toBe(10 * MIN + 250 + 15 * MIN);
  });

  it('past the maximum age a transient failure dead-letters as expired', () => {
    const u = legOutcome(
      leg(),
      { kind: 'transient', code: 'RELAY_NETWORK', reason: 'ECONNRESET' },
      policy({ maxAge: 10 * MIN }),
    );
    expect(u.next.status).toBe('dead');
    expect(u.next.deadReason).toBe(
      'RELAY_DELIVERY_EXPIRED: undelivered after 10 min; last error: RELAY_NETWORK: ECONNRESET',
    );
    expect(u.trace).toBeUndefined();
  });

  it('a permanent failure goes to the fallback once, then dead-letters with the hint', () => {
    const outcome = {
      kind: 'permanent',
      code: 'RELAY_GRAPH_SEND_AS_DENIED',
      reason: '403',
      hint: 'grant SendAs',
    } as const;
    const first = legOutcome(leg(), outcome, policy());
    expect(first.next).toMatchObject({ route: 'acs', via: ['graph'], status: 'pending' });
    expect(first.counts).toEqual([
      { metric: 'relaykit_fallback_total', labels: { from: 'graph', to: 'acs' } },
    ]);
    const back = legOutcome(
      leg({ route: 'acs', via: ['graph'] }),
      outcome,
      policy({ fallbackOf: () => 'graph' }),
    );
    expect(back.next.status).toBe('dead');
    expect(back.next.deadReason).toBe('RELAY_GRAPH_SEND_AS_DENIED: 403 (hint: grant SendAs)');
  });

  it('fallbackEligible: false skips the fallback', () => {
    const u = legOutcome(
      leg(),
      { kind: 'permanent', code: 'RELAY_DELIVERY_PERMANENT', reason: '400', fallbackEligible: false },
      policy(),
    );
    expect(u.next.status).toBe('dead');
  });
});
