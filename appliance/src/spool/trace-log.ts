// Spool room: the per-message trace log, trace/<yyyy-mm-dd>.jsonl, one JSON line per event (received,
// attempts, delivered, dead, operator actions). Buffered and written once per tick: the spool files
// are the durable record, the trace is for people.
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';

export interface TraceEvent {
  readonly id: string;
  readonly event:
    | 'received'
    | 'attempt'
    | 'delivered'
    | 'deferred'
    | 'dead'
    | 'requeued'
    | 'deleted'
    | 'fallback';
  readonly [key: string]: unknown;
}

export class TraceLog {
  private readonly dir: string;
  private readonly logger: Logger;
  private traceStream: WriteStream | undefined;
  private traceStreamDay = '';
  private traceDay = '';
  private traceLines: string[] = [];

  constructor(dir: string, logger: Logger) {
    this.dir = dir;
    this.logger = logger;
  }

  /**
   * Appends to the per-message trace log. Buffered and written in batches (one write per tick, not
   * per event): the spool files are the durable record, the trace is for people.
   */
  write(event: TraceEvent): void {
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    if (day !== this.traceDay) this.flush();
    this.traceDay = day;
    this.traceLines.push(`${JSON.stringify({ at: now.toISOString(), ...event })}\n`);
    if (this.traceLines.length === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.traceLines.length === 0) return;
    const text = this.traceLines.join('');
    this.traceLines = [];
    if (this.traceStream === undefined || this.traceStreamDay !== this.traceDay) {
      this.traceStream?.end();
      this.traceStreamDay = this.traceDay;
      this.traceStream = createWriteStream(join(this.dir, `${this.traceDay}.jsonl`), {
        flags: 'a',
        mode: 0o600,
      });
      this.traceStream.on('error', (err) => this.logger.error({ err }, 'spool: trace log write failed'));
    }
    this.traceStream.write(text);
  }

  async close(): Promise<void> {
    this.flush();
    const t = this.traceStream;
    this.traceStream = undefined;
    if (t) await new Promise<void>((resolve) => t.end(resolve));
  }
}
