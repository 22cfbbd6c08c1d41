// Spool room: the per-message trace log, trace/<yyyy-mm-dd>.jsonl, one JSON line per event (received,
// attempts, delivered, dead, operator actions). Buffered and written every TRACE_FLUSH_MS: the spool
// files are the durable record, the trace is for people.
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

/**
 * How long a trace line may wait to be written. One write per interval instead of one per event
 * loop turn: each write is a thread-pool round trip that wakes a worker and then the loop.
 */
const TRACE_FLUSH_MS = 100;

export class TraceLog {
  private readonly dir: string;
  private readonly logger: Logger;
  private traceStream: WriteStream | undefined;
  private traceStreamDay = '';
  private traceDay = '';
  private traceLines: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(dir: string, logger: Logger) {
    this.dir = dir;
    this.logger = logger;
  }

  /**
   * Appends to the per-message trace log. Buffered and written in batches (one write per
   * TRACE_FLUSH_MS, not per event): the spool files are the durable record, the trace is for people.
   */
  write(event: TraceEvent): void {
    const at = new Date().toISOString();
    const day = at.slice(0, 10);
    if (day !== this.traceDay) this.flush();
    this.traceDay = day;
    // The day's file is opened at its first event, as before batching, not at the first flush.
    this.stream();
    this.traceLines.push(`${JSON.stringify({ at, ...event })}\n`);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), TRACE_FLUSH_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.traceLines.length === 0) return;
    const text = this.traceLines.join('');
    this.traceLines = [];
    this.stream().write(text);
  }

  private stream(): WriteStream {
    if (this.traceStream === undefined || this.traceStreamDay !== this.traceDay) {
      this.traceStream?.end();
      this.traceStreamDay = this.traceDay;
      this.traceStream = createWriteStream(join(this.dir, `${this.traceDay}.jsonl`), {
        flags: 'a',
        mode: 0o600,
      });
      this.traceStream.on('error', (err) => this.logger.error({ err }, 'spool: trace log write failed'));
    }
    return this.traceStream;
  }

  async close(): Promise<void> {
    this.flush();
    const t = this.traceStream;
    this.traceStream = undefined;
    if (t) await new Promise<void>((resolve) => t.end(resolve));
  }
}
