import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../appliance/src/config/load.ts';
import type { RouteConfig } from '../../../appliance/src/config/schema.ts';
import type { DeliveryJob, DeliveryOutcome, Transport } from '../../../appliance/src/delivery/transport.ts';
import { DeliveryEngine } from '../../../appliance/src/delivery/worker.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import { createMetrics } from '../../../appliance/src/ops/metrics.ts';
import { newEntryId } from '../../../appliance/src/spool/entry-name.ts';
import { Spool } from '../../../appliance/src/spool/spool.ts';
import { baseConfigInput, removeDir, tempDir, waitFor } from '../../helpers/appliance.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

/** A transport whose behaviour is a script, and which counts concurrency honestly. */
class ScriptedTransport implements Transport {
  readonly route: string;
  readonly type = 'capture' as const;
  readonly keyConcurrency: number | undefined;
  calls: DeliveryJob[] = [];
  active = 0;
  maxActive = 0;
  activeByKey = new Map<string, number>();
  maxByKey = new Map<string, number>();
  private readonly script: (job: DeliveryJob, call: number) => DeliveryOutcome | Promise<DeliveryOutcome>;
  constructor(
    route: string,
    script: (job: DeliveryJob, call: number) => DeliveryOutcome | Promise<DeliveryOutcome>,
    opts: { keyConcurrency?: number; delayMs?: number; gate?: Promise<void> } = {},
  ) {
    this.route = route;
    this.script = script;
    this.keyConcurrency = opts.keyConcurrency;
    this.delayMs = opts.delayMs ?? 0;
    this.gate = opts.gate;
  }
  private readonly delayMs: number;
  /** Every delivery waits here until the test opens it (a barrier, not a delay). */
  private readonly gate: Promise<void> | undefined;
  concurrencyKey(job: DeliveryJob): string | undefined {
    return this.keyConcurrency === undefined ? undefined : (job.sendAs ?? job.mailFrom);
  }
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    this.calls.push(job);
    const key = this.concurrencyKey(job) ?? '';
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.activeByKey.set(key, (this.activeByKey.get(key) ?? 0) + 1);
    this.maxByKey.set(key, Math.max(this.maxByKey.get(key) ?? 0, this.activeByKey.get(key) ?? 0));
    try {
      if (this.gate) await this.gate;
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return await this.script(job, this.calls.length);
    } finally {
      this.active--;
      this.activeByKey.set(key, (this.activeByKey.get(key) ?? 1) - 1);
    }
  }
}

async function setup(transports: Transport[], routes?: RouteConfig[], schedule = '30ms,30ms*20') {
  const input = baseConfigInput(dir);
  const config = parseConfig(
    {
      ...input,
      routes: routes ?? transports.map((t) => ({ name: t.route, type: 'capture', concurrency: 4 })),
      defaultRoute: transports[0]?.route,
      spool: { directory: `${dir}/spool`, retrySchedule: schedule, maxAge: '5d', maxRetryAfter: '2s' },
    },
    'test',
    dir,
  );
  const spool = await Spool.open(config.spool.directory, silentLogger());
  const metrics = createMetrics();
  const engine = new DeliveryEngine({
    spool,
    transports: new Map(transports.map((t) => [t.route, t])),
    routes: config.routes,
    spoolConfig: config.spool,
    logger: silentLogger(),
    metrics,
  });
  const enqueue = async (
    route: string,
    opts: { from?: string; sendAs?: string; receivedAt?: number } = {},
  ) => {
    const id = newEntryId();
    const w = await spool.begin(id);
    await w.write(Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`));
    const entry = await w.commit({
      version: 1,
      id,
      receivedAt: opts.receivedAt ?? Date.now(),
      envelope: { mailFrom: opts.from ?? 'dev@contoso.com', rcptTo: ['a@contoso.com', 'b@fabrikam.com'] },
      identity: 'test',
      sourceIp: '127.0.0.1',
      listener: 'test',
      deliveries: [
        {
          route,
          recipients: ['a@contoso.com', 'b@fabrikam.com'],
          rule: 'default',
          status: 'pending',
          attempts: [],
          nextAttemptAt: 0,
          ...(opts.sendAs ? { sendAs: opts.sendAs } : {}),
        },
      ],
    });
    engine.add(entry);
    return id;
  };
  return { spool, engine, metrics, enqueue };
}

describe('delivery engine', () => {
  it('retries a transient failure until it succeeds, recording every attempt, then removes the entry', async () => {
    const t = new ScriptedTransport('r1', (_job, n) =>
      n <= 3
        ? { kind: 'transient', code: 'RELAY_NETWORK', reason: `ECONNRESET #${n}` }
        : { kind: 'delivered', detail: 'ok' },
    );
    const { spool, engine, metrics, enqueue } = await setup([t]);
    const id = await enqueue('r1');
    await engine.whenIdle();
    expect(t.calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
    expect(t.calls.every((c) => c.idempotencyKey === `${id}.0.r1`)).toBe(true);
    expect(await metrics.get('relaykit_deferred_total', { route: 'r1' })).toBe(3);
    expect(await metrics.get('relaykit_delivered_total', { route: 'r1' })).toBe(1);
    expect(await spool.list('queue')).toEqual([]);
    expect(await spool.list('dead')).toEqual([]);
  });

  it('dead-letters a permanent failure with the code, reason and hint', async () => {
    const t = new ScriptedTransport('r1', () => ({
      kind: 'permanent',
      code: 'RELAY_GRAPH_SEND_AS_DENIED',
      reason: 'ErrorSendAsDenied',
      hint: 'grant Send As on the mailbox',
    }));
    const { spool, engine, metrics, enqueue } = await setup([t]);
    const id = await enqueue('r1');
    await engine.whenIdle();
    const dead = await spool.list('dead');
    expect(dead.map((e) => e.header.id)).toEqual([id]);
    expect(dead[0]?.deliveries[0]?.deadReason).toBe(
      'RELAY_GRAPH_SEND_AS_DENIED: ErrorSendAsDenied (hint: grant Send As on the mailbox)',
    );
    expect(dead[0]?.deliveries[0]?.attempts).toHaveLength(1);
    expect(await metrics.get('relaykit_dead_lettered_total', { route: 'r1' })).toBe(1);
  });

  it('hands a permanent failure to the route fallback, once', async () => {
    const primary = new ScriptedTransport('graph', () => ({
      kind: 'permanent',
      code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
      reason: 'ErrorMessageSizeExceeded',
      fallbackEligible: true,
    }));
    const fallback = new ScriptedTransport('acs', () => ({ kind: 'delivered', detail: 'sent via acs' }));
    const { engine, metrics, enqueue } = await setup(
      [primary, fallback],
      [
        { name: 'graph', type: 'capture', concurrency: 2, fallback: 'acs', directory: dir },
        { name: 'acs', type: 'capture', concurrency: 2, directory: dir },
      ],
    );
    await enqueue('graph');
    await engine.whenIdle();
    expect(primary.calls).toHaveLength(1);
    expect(fallback.calls).toHaveLength(1);
    expect(await metrics.get('relaykit_fallback_total', { from: 'graph', to: 'acs' })).toBe(1);
  });

  it('honours a transport-supplied retryAfter instead of the schedule', async () => {
    const times: number[] = [];
    const t = new ScriptedTransport('r1', (_j, n) => {
      times.push(Date.now());
      return n === 1
        ? { kind: 'transient', code: 'RELAY_THROTTLED', reason: '429', retryAfterMs: 400 }
        : { kind: 'delivered', detail: 'ok' };
    });
    const { engine, enqueue } = await setup([t], undefined, '10ms');
    await enqueue('r1');
    await engine.whenIdle();
    expect(times).toHaveLength(2);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(390);
  });

  it('expires a message past maxAge into the dead-letter folder', async () => {
    const t = new ScriptedTransport('r1', () => ({
      kind: 'transient',
      code: 'RELAY_NETWORK',
      reason: 'down',
    }));
    const { spool, engine, enqueue } = await setup([t]);
    await enqueue('r1', { receivedAt: Date.now() - 6 * 86_400_000 });
    await engine.whenIdle();
    const dead = await spool.list('dead');
    expect(dead[0]?.deliveries[0]?.deadReason).toMatch(
      /^RELAY_DELIVERY_EXPIRED: undelivered after \d+ min; last error: RELAY_NETWORK: down$/,
    );
  });

  it('never exceeds the route concurrency or the per-key concurrency', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const t = new ScriptedTransport('graph', () => ({ kind: 'delivered', detail: 'ok' }), {
      keyConcurrency: 2,
      gate,
    });
    const { engine, enqueue } = await setup(
      [t],
      [{ name: 'graph', type: 'capture', concurrency: 5, directory: dir }],
    );
    const senders = ['m1@contoso.com', 'm2@contoso.com', 'm3@contoso.com'];
    await Promise.all(Array.from({ length: 60 }, (_, i) => enqueue('graph', { sendAs: senders[i % 3] })));
    // Every delivery is held at the gate: the engine fills the route to its limit and stops there.
    await waitFor(() => (t.active === 5 ? true : undefined), 10_000, '5 deliveries in flight');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(t.calls).toHaveLength(5);
    expect(senders.map((s) => t.activeByKey.get(s) ?? 0).sort()).toEqual([1, 2, 2]);
    open();
    await engine.whenIdle();
    expect(t.calls).toHaveLength(60);
    expect(t.maxActive).toBe(5);
    for (const s of senders) expect(t.maxByKey.get(s)).toBeLessThanOrEqual(2);
  });

  it('splits partially failed recipients: transient ones retry, permanent ones are dead-lettered', async () => {
    const t = new ScriptedTransport('r1', (job, n) =>
      n === 1
        ? {
            kind: 'delivered',
            detail: 'partial',
            failedRecipients: [
              {
                recipient: 'b@fabrikam.com',
                outcome: 'transient',
                code: 'RELAY_DELIVERY_TRANSIENT',
                reason: '451 later',
              },
            ],
          }
        : job.recipients.includes('b@fabrikam.com')
          ? { kind: 'delivered', detail: 'second try' }
          : { kind: 'permanent', code: 'RELAY_DELIVERY_PERMANENT', reason: 'unexpected' },
    );
    const { spool, engine, enqueue } = await setup([t]);
    await enqueue('r1');
    await engine.whenIdle();
    expect(t.calls.map((c) => [...c.recipients])).toEqual([
      ['a@contoso.com', 'b@fabrikam.com'],
      ['b@fabrikam.com'],
    ]);
    expect(await spool.list('queue')).toEqual([]);
    expect(await spool.list('dead')).toEqual([]);
  });

  it('a transport that throws is retried, not lost', async () => {
    const t = new ScriptedTransport('r1', (_j, n) => {
      if (n === 1) throw new Error('bug');
      return { kind: 'delivered', detail: 'ok' };
    });
    const { engine, enqueue } = await setup([t]);
    await enqueue('r1');
    await engine.whenIdle();
    expect(t.calls).toHaveLength(2);
  });

  it('drain aborts work past the deadline and leaves it spooled as pending', async () => {
    const t = new ScriptedTransport('r1', async (job) => {
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
      return { kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', reason: 'aborted' };
    });
    const { spool, engine, enqueue } = await setup([t]);
    const id = await enqueue('r1');
    await waitFor(() => (t.calls.length === 1 ? true : undefined));
    const { finished } = await engine.drain(100);
    expect(finished).toBe(false);
    const q = await spool.list('queue');
    expect(q.map((e) => e.header.id)).toEqual([id]);
    expect(q[0]?.deliveries[0]?.status).toBe('pending');
  });
});
