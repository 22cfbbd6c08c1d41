// Abuse controls of the receiver that need memory across connections: failed AUTH attempts per
// source IP (block after N, for a while) and a per-identity message rate (token bucket). In-memory,
// bounded, clock injected; no I/O. The failure tracker can be snapshotted and restored, and says when
// it changed, so lockout-state.ts keeps lockouts across a restart; the rate buckets are forgotten
// (which errs on the side of letting devices send).
import { isIP } from 'node:net';

export interface AuthFailureOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly blockMs: number;
  /** Told after every recorded failure (the state worth saving changed). */
  readonly onChange?: () => void;
}

/** A tracker's state worth keeping: key → recent failure times and block end (epoch ms). */
export type AuthFailureSnapshot = Record<
  string,
  { readonly times: readonly number[]; readonly blockedUntil: number }
>;

interface FailureRecord {
  /** Times of recent failures, oldest first (at most `limit`). */
  times: number[];
  blockedUntil: number;
}

/** Beyond this many tracked addresses, expired records are swept before adding another. */
const MAX_TRACKED = 10_000;

/**
 * The key failures are counted under: the address itself for IPv4, the /64 for IPv6 (one host
 * usually owns a whole /64, so counting single addresses would let it rotate forever).
 */
export function abuseKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const tl = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class AuthFailureTracker {
  private readonly opts: AuthFailureOptions;
  private readonly now: () => number;
  private readonly records = new Map<string, FailureRecord>();

  constructor(opts: AuthFailureOptions, now: () => number = Date.now) {
    this.opts = opts;
    this.now = now;
  }

  /** Epoch ms until which the address is blocked, or undefined. */
  blockedUntil(ip: string): number | undefined {
    const r = this.records.get(abuseKey(ip));
    return r && r.blockedUntil > this.now() ? r.blockedUntil : undefined;
  }

  /** Records one failure; returns true when this failure (or an earlier one) blocked the address. */
  fail(address: string): boolean {
    const ip = abuseKey(address);
    const t = this.now();
    let r = this.records.get(ip);
    if (!r) {
      if (this.records.size >= MAX_TRACKED) this.sweep(t);
      // Still full (an address-rotating flood): forget the oldest records rather than grow.
      for (const old of this.records.keys()) {
        if (this.records.size < MAX_TRACKED) break;
        this.records.delete(old);
      }
      r = { times: [], blockedUntil: 0 };
      this.records.set(ip, r);
    }
    if (r.blockedUntil > t) return true;
    r.times = r.times.filter((x) => t - x < this.opts.windowMs);
    r.times.push(t);
    let blocked = false;
    if (r.times.length >= this.opts.limit) {
      r.blockedUntil = t + this.opts.blockMs;
      r.times = [];
      blocked = true;
    }
    this.opts.onChange?.();
    return blocked;
  }

  /** The records that still matter now (a block in force or failures inside the window). */
  snapshot(): AuthFailureSnapshot {
    const t = this.now();
    const out: Record<string, { times: number[]; blockedUntil: number }> = {};
    for (const [key, r] of this.records) {
      const times = r.times.filter((x) => t - x < this.opts.windowMs);
      if (r.blockedUntil > t || times.length > 0) out[key] = { times, blockedUntil: r.blockedUntil };
    }
    return out;
  }

  /** Takes back a snapshot (at start); expired records are skipped, the size bound still holds. */
  restore(snapshot: AuthFailureSnapshot): void {
    const t = this.now();
    for (const [key, r] of Object.entries(snapshot)) {
      if (this.records.size >= MAX_TRACKED) break;
      const times = r.times.filter((x) => t - x < this.opts.windowMs).slice(-this.opts.limit);
      if (r.blockedUntil > t || times.length > 0)
        this.records.set(key, { times, blockedUntil: r.blockedUntil });
    }
  }

  /** Failures counted for an address right now (for logs and tests). */
  failures(ip: string): number {
    const t = this.now();
    return this.records.get(abuseKey(ip))?.times.filter((x) => t - x < this.opts.windowMs).length ?? 0;
  }

  get size(): number {
    return this.records.size;
  }

  private sweep(t: number): void {
    for (const [ip, r] of this.records) {
      if (r.blockedUntil <= t && r.times.every((x) => t - x >= this.opts.windowMs)) this.records.delete(ip);
    }
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Messages per minute per key (identity): a token bucket of `perMinute` that refills continuously. */
export class RateLimiter {
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Takes one message from the key's budget; false when the budget is empty. */
  take(key: string, perMinute: number): boolean {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + ((t - b.at) * perMinute) / 60_000);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** Resolves after `ms`; an unref'd timer so a pending delay never holds the process open. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
