// Operator actions on the spool: list, show, retry, delete, requeue from dead letters. Works on a
// running appliance (through the engine, so in-memory schedules stay right) and on a stopped one
// (spool files only). Output shapes are what `relaykit-appliance queue|dead` prints.
import { RelayError } from '../errors.ts';
import type { QueueControl } from '../spool/queue-control.ts';
import type { Spool, SpoolEntry, SpoolFolder } from '../spool/spool.ts';

export interface EntrySummary {
  readonly id: string;
  readonly receivedAt: string;
  readonly from: string;
  readonly recipients: number;
  readonly size: number;
  readonly identity: string;
  readonly subject?: string;
  readonly messageId?: string;
  readonly legs: readonly {
    readonly route: string;
    readonly status: string;
    readonly recipients: readonly string[];
    readonly attempts: number;
    readonly nextAttemptAt?: string;
    readonly lastError?: string;
    readonly deadReason?: string;
  }[];
}

export function summarize(e: SpoolEntry): EntrySummary {
  const h = e.header;
  return {
    id: h.id,
    receivedAt: new Date(h.receivedAt).toISOString(),
    from: h.envelope.mailFrom,
    recipients: h.envelope.rcptTo.length,
    size: e.message.length,
    identity: h.identity,
    ...(h.subject === undefined ? {} : { subject: h.subject }),
    ...(h.messageId === undefined ? {} : { messageId: h.messageId }),
    legs: e.deliveries.map((d) => {
      const last = d.attempts[d.attempts.length - 1];
      return {
        route: d.route,
        status: d.status,
        recipients: d.recipients,
        attempts: d.attempts.length,
        ...(d.status === 'pending' ? { nextAttemptAt: new Date(d.nextAttemptAt).toISOString() } : {}),
        ...(last && last.outcome !== 'delivered'
          ? { lastError: `${last.code ?? ''} ${last.reason}`.trim() }
          : {}),
        ...(d.deadReason === undefined ? {} : { deadReason: d.deadReason }),
      };
    }),
  };
}

export class QueueAdmin {
  private readonly spool: Spool;
  private readonly engine: QueueControl | undefined;
  private readonly now: () => number;

  /** Without an engine, actions touch only the spool files (appliance stopped). */
  constructor(spool: Spool, engine?: QueueControl, now: () => number = Date.now) {
    this.spool = spool;
    this.engine = engine;
    this.now = now;
  }

  async list(folder: SpoolFolder): Promise<EntrySummary[]> {
    return (await this.spool.list(folder)).map(summarize);
  }

  async show(
    folder: SpoolFolder,
    id: string,
  ): Promise<SpoolEntry['header'] & { deliveries: SpoolEntry['deliveries']; size: number }> {
    const e = await this.spool.read(folder, id);
    return { ...e.header, deliveries: e.deliveries, size: e.message.length };
  }

  async retry(id: string): Promise<{ retried: string[] }> {
    if (this.engine) {
      if (!(await this.engine.retryNow(id)))
        throw new RelayError('RELAY_SPOOL_NOT_FOUND', `no queued entry ${id}`);
    } else {
      const e = await this.spool.read('queue', id);
      const now = this.now();
      await this.spool.saveState(
        'queue',
        id,
        e.deliveries.map((d) => (d.status === 'pending' ? { ...d, nextAttemptAt: now } : d)),
      );
    }
    this.spool.trace({ id, event: 'requeued', by: 'operator', action: 'retry' });
    return { retried: [id] };
  }

  async retryAll(): Promise<{ retried: string[] }> {
    const retried: string[] = [];
    for (const e of await this.spool.list('queue')) {
      try {
        await this.retry(e.header.id);
        retried.push(e.header.id);
      } catch {
        // Finished meanwhile.
      }
    }
    return { retried };
  }

  async delete(folder: SpoolFolder, id: string): Promise<{ deleted: string }> {
    if (folder === 'queue') this.engine?.forget(id);
    await this.spool.delete(folder, id);
    this.spool.trace({ id, event: 'deleted', by: 'operator', folder });
    return { deleted: id };
  }

  async requeue(id: string): Promise<{ requeued: string }> {
    const entry = await this.spool.requeue(id, this.now());
    this.spool.trace({ id, event: 'requeued', by: 'operator', action: 'requeue' });
    this.engine?.add(entry);
    return { requeued: id };
  }
}
