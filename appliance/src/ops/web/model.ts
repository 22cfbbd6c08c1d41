// What the status page shows, as plain data: built by source.ts from the health model's snapshot
// (ops/health.ts), the spool's lists and the intake counters, and rendered by page.ts. Holds no
// message bodies, secrets or password hashes: entries are reduced to envelope summaries,
// credentials to names and states.
import type { SpoolEntry } from '../../spool/spool.ts';

export type Light = 'green' | 'amber' | 'red';

export interface PageRoute {
  readonly name: string;
  readonly type: string;
  readonly state: 'ok' | 'degraded' | 'failing';
  readonly queued: number;
  readonly lastError?: string;
  readonly hint?: string;
}

export interface PageEntry {
  readonly id: string;
  readonly receivedAt: string;
  readonly ageSeconds: number;
  readonly from: string;
  readonly recipients: number;
  readonly subject?: string;
  readonly routes: string;
  readonly attempts: number;
  readonly nextAttemptAt?: string;
  readonly reason?: string;
  readonly hint?: string;
}

export interface PageExpiry {
  readonly name: string;
  readonly kind: 'credential' | 'certificate';
  readonly state: Light;
  readonly detail: string;
}

export interface PageModel {
  readonly hostname: string;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly generatedAt: string;
  readonly overall: { readonly state: Light; readonly reasons: readonly string[] };
  readonly intake: {
    readonly state: Light;
    readonly detail: string;
    readonly hint?: string;
    readonly acceptedTotal: number;
    readonly refusedTotal: number;
    /** Accepted per minute over the last few minutes; undefined in the first minute. */
    readonly acceptedPerMinute?: number;
    readonly refusedPerMinute?: number;
  };
  readonly queue: {
    readonly depth: number;
    readonly oldestAgeSeconds: number;
    readonly inFlight: number;
    readonly deadLetters: number;
    readonly quarantined: number;
  };
  readonly routes: readonly PageRoute[];
  readonly queued: readonly PageEntry[];
  readonly dead: readonly PageEntry[];
  readonly expiries: readonly PageExpiry[];
  readonly disk: { readonly state: Light; readonly detail: string; readonly freeBytes?: number };
}

/** The page lists at most this many entries per table (the API has them all). */
export const PAGE_ROWS = 200;

export function pageEntry(e: SpoolEntry, now: number): PageEntry {
  const h = e.header;
  const attempts = e.deliveries.flatMap((d) => d.attempts);
  const last = [...attempts].reverse().find((a) => a.outcome !== 'delivered');
  const dead = e.deliveries.find((d) => d.status === 'dead');
  const pending = e.deliveries
    .filter((d) => d.status === 'pending')
    .map((d) => d.nextAttemptAt)
    .sort((a, b) => a - b)[0];
  return {
    id: h.id,
    receivedAt: new Date(h.receivedAt).toISOString(),
    ageSeconds: Math.max(0, Math.round((now - h.receivedAt) / 1000)),
    from: h.envelope.mailFrom === '' ? '<>' : h.envelope.mailFrom,
    recipients: h.envelope.rcptTo.length,
    ...(h.subject === undefined ? {} : { subject: h.subject }),
    routes: [...new Set(e.deliveries.map((d) => d.route))].join(', '),
    attempts: attempts.length,
    ...(pending === undefined ? {} : { nextAttemptAt: new Date(pending).toISOString() }),
    ...(dead?.deadReason !== undefined
      ? { reason: dead.deadReason }
      : last
        ? { reason: `${last.code ?? ''} ${last.reason}`.trim() }
        : {}),
    ...(last?.hint === undefined ? {} : { hint: last.hint }),
  };
}

/** Counter snapshots for per-minute rates (kept by whoever builds the model). */
export class RateWindow {
  private readonly samples: { at: number; accepted: number; refused: number }[] = [];
  private readonly windowMs: number;

  constructor(windowMs = 5 * 60_000) {
    this.windowMs = windowMs;
  }

  sample(at: number, accepted: number, refused: number): { accepted?: number; refused?: number } {
    this.samples.push({ at, accepted, refused });
    while (this.samples.length > 2 && at - (this.samples[1]?.at ?? at) >= this.windowMs) this.samples.shift();
    const first = this.samples[0];
    // Under a minute of history a per-minute figure would only extrapolate a burst.
    if (!first || at - first.at < 60_000) return {};
    const minutes = (at - first.at) / 60_000;
    return {
      accepted: Math.round(((accepted - first.accepted) / minutes) * 10) / 10,
      refused: Math.round(((refused - first.refused) / minutes) * 10) / 10,
    };
  }
}
