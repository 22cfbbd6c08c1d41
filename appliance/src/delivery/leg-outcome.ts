// Delivery room: what one attempt's outcome does to its leg, as a pure function the engine applies.
// Delivered legs are done (recipients a smarthost refused split off: transient ones as a new pending
// leg, permanent ones dead); a transient failure waits for the transport's Retry-After (capped) or
// the retry schedule, until the message's maximum age; a permanent failure moves to the route's
// fallback once per route, or dead-letters with the reason. Counters and the trace event to record
// come back as data so the engine stays the only one writing them.
import { retryDelay } from '../config/schedule.ts';
import type { ErrorCode } from '../errors.ts';
import type { Attempt, Delivery } from '../spool/record.ts';
import type { DeliveryOutcome } from './transport.ts';

export interface LegPolicy {
  /** When the attempt started and ended (engine clock). */
  readonly started: number;
  readonly now: number;
  /** When the message was received: its age decides expiry. */
  readonly receivedAt: number;
  /** Retry schedule (ms per failure) and the caps from config `spool`. */
  readonly schedule: readonly number[];
  readonly maxAge: number;
  readonly maxRetryAfter: number;
  readonly fallbackOf: (route: string) => string | undefined;
}

export interface LegCount {
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LegUpdate {
  /** The leg after this attempt. */
  readonly next: Delivery;
  /** Legs split off (recipients a smarthost refused while accepting the others). */
  readonly extra: Delivery[];
  /** Metric counters to add, one each. */
  readonly counts: LegCount[];
  /** The trace event (without the entry id and leg index), when the outcome has one. */
  readonly trace?: { readonly event: 'delivered' | 'deferred' | 'fallback'; readonly [key: string]: unknown };
}

function attemptOf(d: Delivery, outcome: DeliveryOutcome, p: LegPolicy): Attempt {
  return {
    at: new Date(p.started).toISOString(),
    route: d.route,
    outcome: outcome.kind,
    durationMs: p.now - p.started,
    ...(outcome.kind === 'delivered'
      ? { reason: outcome.detail }
      : { reason: outcome.reason, code: outcome.code }),
    ...('hint' in outcome && outcome.hint !== undefined ? { hint: outcome.hint } : {}),
    ...('possibleDuplicate' in outcome && outcome.possibleDuplicate ? { possibleDuplicate: true } : {}),
    ...('remoteId' in outcome && outcome.remoteId !== undefined ? { remoteId: outcome.remoteId } : {}),
  };
}

function dead(
  d: Delivery,
  attempts: Attempt[],
  code: ErrorCode,
  reason: string,
  counts: LegCount[],
): Delivery {
  counts.push({ metric: 'relaykit_dead_lettered_total', labels: { route: d.route } });
  return { ...d, attempts, status: 'dead', deadReason: `${code}: ${reason}` };
}

export function legOutcome(d: Delivery, outcome: DeliveryOutcome, p: LegPolicy): LegUpdate {
  const now = p.now;
  const attempts = [...d.attempts, attemptOf(d, outcome, p)];
  const counts: LegCount[] = [];

  if (outcome.kind === 'delivered') {
    const failed = outcome.failedRecipients ?? [];
    const failedSet = new Set(failed.map((f) => f.recipient));
    const next: Delivery = {
      ...d,
      status: 'delivered',
      attempts,
      recipients: d.recipients.filter((r) => !failedSet.has(r)),
    };
    counts.push({ metric: 'relaykit_delivered_total', labels: { route: d.route } });
    const extra: Delivery[] = [];
    const transient = failed.filter((f) => f.outcome === 'transient');
    const permanent = failed.filter((f) => f.outcome === 'permanent');
    if (transient.length > 0) {
      extra.push({
        ...d,
        recipients: transient.map((f) => f.recipient),
        attempts,
        status: 'pending',
        nextAttemptAt: now + retryDelay(p.schedule, 1),
      });
    }
    if (permanent.length > 0) {
      extra.push({
        ...d,
        recipients: permanent.map((f) => f.recipient),
        attempts,
        status: 'dead',
        deadReason: permanent.map((f) => `${f.recipient}: ${f.code}: ${f.reason}`).join('; '),
      });
      counts.push({ metric: 'relaykit_dead_lettered_total', labels: { route: d.route } });
    }
    return {
      next,
      extra,
      counts,
      trace: { event: 'delivered', route: d.route, detail: outcome.detail, remoteId: outcome.remoteId },
    };
  }

  if (outcome.kind === 'transient') {
    const failures = attempts.filter((a) => a.outcome === 'transient').length;
    const expiresAt = p.receivedAt + p.maxAge;
    if (now >= expiresAt) {
      const next = dead(
        d,
        attempts,
        'RELAY_DELIVERY_EXPIRED',
        `undelivered after ${Math.round((now - p.receivedAt) / 60_000)} min; last error: ${outcome.code}: ${outcome.reason}`,
        counts,
      );
      return { next, extra: [], counts };
    }
    const wait =
      outcome.retryAfterMs !== undefined
        ? Math.min(Math.max(outcome.retryAfterMs, 0), p.maxRetryAfter)
        : retryDelay(p.schedule, failures);
    const next: Delivery = { ...d, attempts, nextAttemptAt: Math.min(now + wait, expiresAt) };
    counts.push({ metric: 'relaykit_deferred_total', labels: { route: d.route } });
    return {
      next,
      extra: [],
      counts,
      trace: {
        event: 'deferred',
        route: d.route,
        code: outcome.code,
        reason: outcome.reason,
        retryInMs: next.nextAttemptAt - now,
        possibleDuplicate: outcome.possibleDuplicate,
      },
    };
  }

  const fallback = p.fallbackOf(d.route);
  const via = d.via ?? [];
  if (fallback !== undefined && outcome.fallbackEligible !== false && !via.includes(fallback)) {
    counts.push({ metric: 'relaykit_fallback_total', labels: { from: d.route, to: fallback } });
    return {
      next: { ...d, route: fallback, via: [...via, d.route], attempts, nextAttemptAt: now },
      extra: [],
      counts,
      trace: { event: 'fallback', from: d.route, to: fallback, code: outcome.code, reason: outcome.reason },
    };
  }
  const reason = outcome.hint ? `${outcome.reason} (hint: ${outcome.hint})` : outcome.reason;
  return { next: dead(d, attempts, outcome.code, reason, counts), extra: [], counts };
}
