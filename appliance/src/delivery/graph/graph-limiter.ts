// Per (app, mailbox) limits for the Graph transport: at most N requests in flight (Outlook allows 4
// per app+mailbox), message submissions paced evenly to M per minute (Exchange Online sends 30 a
// minute per mailbox), and a shared pause when Graph answers 429/503 with Retry-After so the other
// requests for that mailbox hold off too. Pure timing logic; no I/O.
import { setTimeout as sleep } from 'node:timers/promises';

export interface MailboxLimiterOptions {
  readonly maxConcurrent: number;
  readonly messagesPerMinute: number;
  readonly now: () => number;
}

/**
 * Spacing between message submissions. 1% slack so that network jitter between our clock and the
 * service's arrival times never puts M+1 messages inside one of the service's 60-second windows.
 */
export function paceInterval(messagesPerMinute: number): number {
  return Math.ceil((60_000 / messagesPerMinute) * 1.01);
}

export class MailboxLimiter {
  private readonly opts: MailboxLimiterOptions;
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private pausedUntil = 0;
  private nextMessageAt = 0;
  /** Highest number of requests this limiter let run at once (for tests and the bench). */
  peakActive = 0;

  constructor(opts: MailboxLimiterOptions) {
    this.opts = opts;
  }

  /** Runs one HTTP request under the concurrency limit, after any Retry-After pause. */
  async run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.waitPause(signal);
    await this.acquire(signal);
    try {
      await this.waitPause(signal);
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Waits for this mailbox's next message slot (call once per message, before submitting it). */
  async messageTurn(signal: AbortSignal): Promise<void> {
    const now = this.opts.now();
    const at = Math.max(now, this.nextMessageAt);
    this.nextMessageAt = at + paceInterval(this.opts.messagesPerMinute);
    if (at > now) await sleep(at - now, undefined, { signal });
  }

  /** Retry-After: no new request for this mailbox before now + ms. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.opts.now() + ms);
  }

  private async waitPause(signal: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.pausedUntil - this.opts.now();
      if (wait <= 0) return;
      await sleep(wait, undefined, { signal });
    }
  }

  private async acquire(signal: AbortSignal): Promise<void> {
    if (this.active < this.opts.maxConcurrent) {
      this.active += 1;
      this.peakActive = Math.max(this.peakActive, this.active);
      return;
    }
    signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // The releasing request handed its slot over: active stays the same.
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.active -= 1;
  }
}

/** One limiter per (app, mailbox) key, created on first use. */
export class MailboxLimiters {
  private readonly opts: MailboxLimiterOptions;
  private readonly map = new Map<string, MailboxLimiter>();

  constructor(opts: MailboxLimiterOptions) {
    this.opts = opts;
  }

  get(key: string): MailboxLimiter {
    let l = this.map.get(key);
    if (l === undefined) {
      l = new MailboxLimiter(this.opts);
      this.map.set(key, l);
    }
    return l;
  }

  /** Highest concurrency any one key reached. */
  get peakActive(): number {
    let peak = 0;
    for (const l of this.map.values()) peak = Math.max(peak, l.peakActive);
    return peak;
  }
}
