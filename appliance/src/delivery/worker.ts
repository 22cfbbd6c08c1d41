// The delivery engine. It holds every pending leg of every spooled message, runs due legs through
// their route's Transport within per-route and per-key concurrency limits, and records each outcome
// in the spool before acting on it: delivered legs are done, transient failures are rescheduled from
// the retry schedule (or the transport's Retry-After), permanent failures go to the route's fallback
// or to the dead-letter folder with the reason. It reads and writes the spool only through Spool and
// never talks to the receiver.

import { parseSchedule } from '../config/schedule.ts';
import type { Config, RouteConfig } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import type { QueueControl } from '../spool/queue-control.ts';
import type { Delivery } from '../spool/record.ts';
import type { Spool, SpoolEntry } from '../spool/spool.ts';
import type { EntryRuntime, RouteLane } from './engine-state.ts';
import { type DeliveryEvent, type DeliveryObserver, outcomeEvents } from './events.ts';
import { fillLane } from './lane-fill.ts';
import { legOutcome } from './leg-outcome.ts';
import { type Task, TaskHeap } from './task-heap.ts';
import { type DeliveryOutcome, legJob, type Transport } from './transport.ts';

export interface EngineOptions {
  readonly spool: Spool;
  readonly transports: ReadonlyMap<string, Transport>;
  readonly routes: readonly RouteConfig[];
  readonly spoolConfig: Config['spool'];
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly now?: () => number;
  /** Told of every recorded outcome (health, logs, notices); never awaited. */
  readonly observer?: DeliveryObserver;
}

const MAX_TIMER = 2 ** 31 - 1;

export class DeliveryEngine implements QueueControl {
  private readonly spool: Spool;
  private readonly logger: Logger;
  private readonly metrics: MetricsSink;
  private readonly now: () => number;
  private readonly observer: DeliveryObserver | undefined;
  private readonly schedule: number[];
  private readonly maxAge: number;
  private readonly maxRetryAfter: number;
  private readonly routes: Map<string, RouteConfig>;
  private readonly lanes = new Map<string, RouteLane>();
  private readonly keyActive = new Map<string, number>();
  private readonly entries = new Map<string, EntryRuntime>();
  private readonly future = new TaskHeap();
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: EngineOptions) {
    this.spool = opts.spool;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.observer = opts.observer;
    this.schedule = parseSchedule(opts.spoolConfig.retrySchedule);
    this.maxAge = opts.spoolConfig.maxAge;
    this.maxRetryAfter = opts.spoolConfig.maxRetryAfter;
    this.routes = new Map(opts.routes.map((r) => [r.name, r]));
    for (const r of opts.routes) {
      this.lanes.set(r.name, {
        transport: opts.transports.get(r.name),
        limit: r.concurrency,
        active: 0,
        ready: new Map(),
      });
    }
  }

  /** Number of messages with at least one pending leg. */
  get size(): number {
    return this.entries.size;
  }

  /** Takes a freshly spooled or recovered entry and schedules its pending legs. */
  add(entry: SpoolEntry): void {
    if (this.entries.has(entry.header.id)) return;
    const rt: EntryRuntime = {
      header: entry.header,
      message: entry.message,
      deliveries: [...entry.deliveries],
      tokens: entry.deliveries.map(() => 0),
      running: new Set(),
      lock: Promise.resolve(),
      deleted: false,
      hasState: entry.deliveries !== entry.header.deliveries,
    };
    this.entries.set(entry.header.id, rt);
    if (!rt.deliveries.some((d) => d.status === 'pending')) {
      // Recovered after a crash between the last outcome and the final move: finish it now.
      this.track(
        this.withLock(rt, async () => {
          await this.finishIfDone(rt);
        }),
      );
      return;
    }
    rt.deliveries.forEach((d, leg) => {
      if (d.status === 'pending') this.enqueue(rt, leg, d.nextAttemptAt);
    });
    this.pump();
  }

  /** Makes every pending leg of a queued message due now. */
  async retryNow(id: string): Promise<boolean> {
    const rt = this.entries.get(id);
    if (!rt) return false;
    await this.withLock(rt, async () => {
      const now = this.now();
      rt.deliveries = rt.deliveries.map((d) => (d.status === 'pending' ? { ...d, nextAttemptAt: now } : d));
      await this.spool.saveState('queue', id, rt.deliveries);
      rt.hasState = true;
      rt.deliveries.forEach((d, leg) => {
        if (d.status === 'pending' && !rt.running.has(leg)) this.enqueue(rt, leg, now);
      });
    });
    this.pump();
    return true;
  }

  /** Forgets a message (the operator deleted it). A leg in flight finishes but is not recorded. */
  forget(id: string): boolean {
    const rt = this.entries.get(id);
    if (!rt) return false;
    rt.deleted = true;
    this.entries.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  inFlight(route?: string): number {
    if (route !== undefined) return this.lanes.get(route)?.active ?? 0;
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.active;
    return n;
  }

  /** Resolves when nothing is pending or running (tests, benchmarks). */
  whenIdle(): Promise<void> {
    if (this.entries.size === 0 && this.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking new work and waits up to `deadlineMs` for deliveries in flight; past the deadline
   * their requests are aborted (recorded as transient, so they are retried after restart). Whatever
   * has not run stays spooled.
   */
  async drain(deadlineMs: number): Promise<{ finished: boolean }> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const all = () => Promise.allSettled([...this.inflight]);
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((r) => {
        timeout = setTimeout(() => r(true), deadlineMs);
      }),
    ]);
    clearTimeout(timeout);
    if (timedOut) {
      this.abort.abort(new RelayError('RELAY_SHUTTING_DOWN'));
      await Promise.race([all(), new Promise((r) => setTimeout(r, 5000))]);
    }
    return { finished: !timedOut };
  }

  private enqueue(rt: EntryRuntime, leg: number, due: number): void {
    const token = (rt.tokens[leg] ?? 0) + 1;
    rt.tokens[leg] = token;
    this.future.push({ id: rt.header.id, leg, due, token });
  }

  private isLive(t: Task): EntryRuntime | undefined {
    const rt = this.entries.get(t.id);
    if (!rt || rt.tokens[t.leg] !== t.token || rt.running.has(t.leg)) return undefined;
    return rt.deliveries[t.leg]?.status === 'pending' ? rt : undefined;
  }

  private pump(): void {
    if (this.stopping) return;
    const now = this.now();
    // Move due tasks from the timeline into their route's ready lanes.
    for (let t = this.future.peek(); t !== undefined && t.due <= now; t = this.future.peek()) {
      this.future.pop();
      const rt = this.isLive(t);
      if (!rt) continue;
      const d = rt.deliveries[t.leg] as Delivery;
      let lane = this.lanes.get(d.route);
      if (!lane) {
        // A route removed from config while messages were queued for it.
        lane = { transport: undefined, limit: 1, active: 0, ready: new Map() };
        this.lanes.set(d.route, lane);
      }
      const k = lane.transport?.concurrencyKey?.(this.jobFor(rt, t.leg)) ?? '';
      const q = lane.ready.get(k);
      if (q) q.push(t);
      else lane.ready.set(k, [t]);
    }
    for (const [route, lane] of this.lanes) this.startFrom(route, lane);
    this.armTimer();
  }

  /** Starts due legs up to the route's limit, shared fairly between its keys (lane-fill.ts). */
  private startFrom(route: string, lane: RouteLane): void {
    fillLane(
      lane.ready,
      () => lane.limit - lane.active,
      lane.transport?.keyConcurrency ?? Number.POSITIVE_INFINITY,
      (k) => this.keyActive.get(`${route}\u0000${k}`) ?? 0,
      (k, t) => this.startLeg(route, lane, k, t),
    );
  }

  private startLeg(route: string, lane: RouteLane, k: string, t: Task): void {
    const rt = this.isLive(t);
    if (!rt) return;
    const fullKey = `${route}\u0000${k}`;
    lane.active++;
    if (k !== '') this.keyActive.set(fullKey, (this.keyActive.get(fullKey) ?? 0) + 1);
    rt.running.add(t.leg);
    this.metrics.set('relaykit_deliveries_in_flight', { route }, lane.active);
    this.track(
      this.attempt(rt, t.leg, lane).finally(() => {
        lane.active--;
        if (k !== '') {
          const n = (this.keyActive.get(fullKey) ?? 1) - 1;
          if (n === 0) this.keyActive.delete(fullKey);
          else this.keyActive.set(fullKey, n);
        }
        rt.running.delete(t.leg);
        this.metrics.set('relaykit_deliveries_in_flight', { route }, lane.active);
        this.pump();
      }),
    );
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err) => this.logger.error({ err }, 'delivery: internal error'));
    this.inflight.add(tracked);
    void tracked.finally(() => {
      this.inflight.delete(tracked);
      if (this.entries.size === 0 && this.inflight.size === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const fn of w) fn();
      }
    });
  }

  private armTimer(): void {
    const next = this.future.peek();
    if (next === undefined || this.stopping) return;
    if (this.timer && this.timerDue <= next.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = next.due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.min(Math.max(next.due - this.now(), 0), MAX_TIMER),
    );
    this.timer.unref?.();
  }

  private jobFor(rt: EntryRuntime, leg: number) {
    return legJob(rt.header, leg, rt.deliveries[leg] as Delivery, rt.message, this.abort.signal);
  }

  private async attempt(rt: EntryRuntime, leg: number, lane: RouteLane): Promise<void> {
    const job = this.jobFor(rt, leg);
    const route = (rt.deliveries[leg] as Delivery).route;
    const started = this.now();
    let outcome: DeliveryOutcome;
    if (!lane.transport) {
      outcome = {
        kind: 'permanent',
        code: 'RELAY_ROUTE_UNKNOWN',
        reason: `route "${route}" is not configured`,
      };
    } else {
      try {
        outcome = await lane.transport.deliver(job);
      } catch (err) {
        // A transport that throws has a bug; the message must not pay for it.
        this.logger.error({ err, id: job.id, route }, 'delivery: transport threw; will retry');
        outcome = {
          kind: 'transient',
          code: 'RELAY_DELIVERY_TRANSIENT',
          reason: `transport error: ${(err as Error).message}`,
        };
      }
    }
    if (rt.deleted) return;
    await this.withLock(rt, () => this.record(rt, leg, outcome, started));
  }

  private emit(events: readonly DeliveryEvent[]): void {
    if (!this.observer) return;
    for (const event of events) {
      try {
        this.observer(event);
      } catch (err) {
        this.logger.error({ err, event: event.kind }, 'delivery: event listener failed');
      }
    }
  }

  private withLock(rt: EntryRuntime, fn: () => Promise<void>): Promise<void> {
    const next = rt.lock.then(fn);
    rt.lock = next.catch(() => {});
    return next;
  }

  private async record(
    rt: EntryRuntime,
    leg: number,
    outcome: DeliveryOutcome,
    started: number,
  ): Promise<void> {
    const d = rt.deliveries[leg] as Delivery;
    const id = rt.header.id;
    const now = this.now();
    const u = legOutcome(d, outcome, {
      started,
      now,
      receivedAt: rt.header.receivedAt,
      schedule: this.schedule,
      maxAge: this.maxAge,
      maxRetryAfter: this.maxRetryAfter,
      fallbackOf: (route) => this.routes.get(route)?.fallback,
    });
    for (const c of u.counts) this.metrics.inc(c.metric, c.labels);
    if (u.trace !== undefined) {
      const { event, ...rest } = u.trace;
      this.spool.trace({ id, event, leg, ...rest });
    }

    const before = rt.deliveries.length;
    rt.deliveries = [...rt.deliveries.slice(0, leg), u.next, ...rt.deliveries.slice(leg + 1), ...u.extra];
    for (let i = rt.tokens.length; i < rt.deliveries.length; i++) rt.tokens.push(0);
    // Listeners hear of the outcome only once the spool holds it.
    const events = outcomeEvents(rt, leg, d, outcome, u.next, now);
    if (await this.finishIfDone(rt, events)) return;
    await this.spool.saveState('queue', id, rt.deliveries);
    rt.hasState = true;
    this.emit(events);
    rt.deliveries.forEach((x, i) => {
      if (x.status === 'pending' && (i === leg || i >= before)) this.enqueue(rt, i, x.nextAttemptAt);
    });
  }

  /** When no leg is pending: remove the entry (all delivered) or move it to dead/. */
  private async finishIfDone(rt: EntryRuntime, events: readonly DeliveryEvent[] = []): Promise<boolean> {
    if (rt.deliveries.some((d) => d.status === 'pending')) return false;
    const id = rt.header.id;
    if (rt.deliveries.every((d) => d.status === 'delivered')) {
      await this.spool.remove('queue', id, rt.hasState);
      this.emit(events);
    } else {
      const dead = await this.spool.deadLetter(id, rt.deliveries);
      const reasons = rt.deliveries
        .filter((d) => d.status === 'dead')
        .map((d) => `${d.route}: ${d.deadReason}`);
      this.spool.trace({ id, event: 'dead', reasons });
      this.emit(events);
      // The log line is the listener's (ops/event-log.ts); without one, say it here.
      if (this.observer) {
        this.emit([
          { kind: 'dead', id, header: rt.header, message: dead.message, deliveries: rt.deliveries },
        ]);
      } else {
        this.logger.warn({ id, messageId: rt.header.messageId, reasons }, 'delivery: message dead-lettered');
      }
    }
    this.entries.delete(id);
    return true;
  }
}
