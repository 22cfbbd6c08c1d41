// Per (app, mailbox) limits for the Graph transport: at most N requests in flight (Outlook allows 4
// per app+mailbox), message submissions paced evenly to M per minute (Exchange Online sends 30 a
// minute per mailbox), and a shared pause when Graph answers 429/503 with Retry-After so the other
// requests for that mailbox hold off too. After a pause the mailbox gets one request, then one more
// per success back up to N (a storm of waiters released in the same instant would only earn the next
// 429). A request may keep its slot after it returned (an aborted request until its connection has
// closed: the service counts it until then). Pure timing logic; no I/O.
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

/** What a request run under the limiter tells it when it ends. */
export interface RunResult<T> {
  readonly value: T;
  /** The service accepted the request (2xx): the window may widen again after a pause. */
  readonly ok: boolean;
}

/** Passed to the request: keep the slot until `until` settles (e.g. an aborted connection closes). */
export type HoldSlot = (until: Promise<unknown>) => void;

export class MailboxLimiter {
  private readonly opts: MailboxLimiterOptions;
  private active = 0;
  /** Requests allowed at once right now: 1 after a Retry-After, +1 per success up to maxConcurrent. */
  private window: number;
  private readonly waiters: (() => void)[] = [];
  private pausedUntil = 0;
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;
  private nextMessageAt = 0;
  /** Highest number of requests this limiter let run at once (for tests and the bench). */
  peakActive = 0;

  constructor(opts: MailboxLimiterOptions) {
    this.opts = opts;
    this.window = opts.maxConcurrent;
  }

  /** Requests currently holding a slot (tests). */
  get inFlight(): number {
    return this.active;
  }

  /** Current window (tests). */
  get allowed(): number {
    return this.window;
  }

  /** Runs one HTTP request under the concurrency limit, after any Retry-After pause. */
  async run<T>(fn: (hold: HoldSlot) => Promise<RunResult<T>>, signal: AbortSignal): Promise<T> {
    await this.acquire(signal);
    let held: Promise<unknown> | undefined;
    let ok = false;
    try {
      const r = await fn((until) => {
        held = until;
      });
      ok = r.ok;
      return r.value;
    } finally {
      if (ok && this.window < this.opts.maxConcurrent) this.window += 1;
      if (held === undefined) this.release();
      else
        held.then(
          () => this.release(),
          () => this.release(),
        );
    }
  }

  /** Waits for this mailbox's next message slot (call once per message, before submitting it). */
  async messageTurn(signal: AbortSignal): Promise<void> {
    const now = this.opts.now();
    const at = Math.max(now, this.nextMessageAt);
    this.nextMessageAt = at + paceInterval(this.opts.messagesPerMinute);
    if (at > now) await sleep(at - now, undefined, { signal });
  }

  /** Retry-After: no new request for this mailbox before now + ms, then one at a time, ramping up. */
  pause(ms: number): void {
    const until = this.opts.now() + ms;
    this.window = 1;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.armPauseTimer();
  }

  /** Wakes the waiters when the pause is over (re-armed if the injected clock says it is not yet). */
  private armPauseTimer(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(
      () => {
        this.pauseTimer = undefined;
        if (this.paused()) this.armPauseTimer();
        else this.wake();
      },
      Math.max(1, this.pausedUntil - this.opts.now()),
    );
  }

  private paused(): boolean {
    return this.pausedUntil > this.opts.now();
  }

  private canStart(): boolean {
    return !this.paused() && this.active < this.window;
  }

  private async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.waiters.length === 0 && this.canStart()) {
      this.take();
      return;
    }
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
  }

  private take(): void {
    this.active += 1;
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  /** Starts as many waiters as the window and the pause allow, in arrival order. */
  private wake(): void {
    while (this.waiters.length > 0 && this.canStart()) {
      this.take();
      (this.waiters.shift() as () => void)();
    }
  }

  private release(): void {
    this.active -= 1;
    this.wake();
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
