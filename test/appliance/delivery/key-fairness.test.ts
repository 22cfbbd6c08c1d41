// The engine shares a route's slots fairly between concurrency keys (Graph: sending mailboxes). A
// slot freed by one key goes to the key with the fewest legs in flight, not to whichever key comes
// first: served in order, the first keys took every freed slot back until the last key had none (the
// load bench's ten Graph mailboxes: two starved, 182 of 400 msg/s).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../appliance/src/config/load.ts';
import type { DeliveryJob, DeliveryOutcome, Transport } from '../../../appliance/src/delivery/transport.ts';
import { DeliveryEngine } from '../../../appliance/src/delivery/worker.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import { createMetrics } from '../../../appliance/src/ops/metrics.ts';
import { newEntryId } from '../../../appliance/src/spool/entry-name.ts';
import { Spool } from '../../../appliance/src/spool/spool.ts';
import { baseConfigInput, removeDir, tempDir, waitFor } from '../../helpers/appliance.ts';
import { pendingHeader } from '../../helpers/spool-header.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

/** Keys on the envelope sender; every delivery waits until the test finishes it (barriers). */
class HeldTransport implements Transport {
  readonly route = 'graph';
  readonly type = 'capture' as const;
  readonly keyConcurrency = 4;
  readonly held: { key: string; finish: () => void }[] = [];
  /** Once set, deliveries are no longer held: the rest of the queue drains. */
  open = false;
  concurrencyKey(job: DeliveryJob): string {
    return job.mailFrom;
  }
  deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    if (this.open) return Promise.resolve({ kind: 'delivered', detail: 'ok' });
    return new Promise((resolve) => {
      const entry = {
        key: job.mailFrom,
        finish: () => {
          this.held.splice(this.held.indexOf(entry), 1);
          resolve({ kind: 'delivered', detail: 'ok' });
        },
      };
      this.held.push(entry);
    });
  }
  inFlight(key: string): number {
    return this.held.filter((h) => h.key === key).length;
  }
}

describe('delivery engine: slots shared between concurrency keys', () => {
  it('gives a slot freed by the last key back to it, not to the first keys (no starvation)', async () => {
    const config = parseConfig(
      {
        ...baseConfigInput(dir),
        routes: [{ name: 'graph', type: 'capture', concurrency: 6, directory: dir }],
        defaultRoute: 'graph',
        spool: { directory: `${dir}/spool` },
      },
      'test',
      dir,
    );
    const spool = await Spool.open(config.spool.directory, silentLogger());
    const t = new HeldTransport();
    const engine = new DeliveryEngine({
      spool,
      transports: new Map([[t.route, t]]),
      routes: config.routes,
      spoolConfig: config.spool,
      logger: silentLogger(),
      metrics: createMetrics(),
    });
    const senders = ['m1@contoso.com', 'm2@contoso.com', 'm3@contoso.com'];
    for (let i = 0; i < 30; i++) {
      const id = newEntryId();
      const w = await spool.begin(id);
      await w.write(Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`));
      const h = pendingHeader(id);
      const from = senders[i % 3] as string;
      const entry = await w.commit({
        ...h,
        envelope: { ...h.envelope, mailFrom: from },
        deliveries: h.deliveries.map((d) => ({ ...d, route: 'graph' })),
      });
      engine.add(entry);
    }
    const spread = () => senders.map((s) => t.inFlight(s));
    await waitFor(() => (t.held.length === 6 ? true : undefined), 10_000, '6 deliveries in flight');
    expect(spread()).toEqual([2, 2, 2]);
    // The last key's deliveries finish one by one: each freed slot must stay with that key.
    for (let round = 0; round < 4; round++) {
      t.held.find((h) => h.key === 'm3@contoso.com')?.finish();
      await waitFor(() => (t.held.length === 6 ? true : undefined), 10_000, 'the freed slot taken again');
      expect(spread()).toEqual([2, 2, 2]);
    }
    t.open = true;
    for (const h of [...t.held]) h.finish();
    await engine.whenIdle();
  });
});
