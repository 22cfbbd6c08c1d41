// Capture transport: writes the message bytes as received (trace header included) into a directory,
// one .eml file per delivery leg, atomically (temporary name, fsync, rename). The embedded default's
// only route, so the appliance runs with no cloud account; also what image and crash tests read.
// A repeated attempt after a crash rewrites the same file name, so capture is idempotent.
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RouteConfig } from '../config/schema.ts';
import { classify } from './classify.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
} from './transport.ts';

type CaptureRoute = Extract<RouteConfig, { type: 'capture' }>;

export class CaptureTransport implements Transport {
  readonly route: string;
  readonly type = 'capture' as const;
  private readonly directory: string;
  private ready: Promise<unknown> | undefined;

  constructor(route: CaptureRoute) {
    this.route = route.name;
    this.directory = route.directory;
  }

  fileName(job: DeliveryJob): string {
    return job.leg === 0 ? `${job.id}.eml` : `${job.id}-${job.leg}.eml`;
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    this.ready ??= mkdir(this.directory, { recursive: true });
    const final = join(this.directory, this.fileName(job));
    const tmp = join(this.directory, `.${this.fileName(job)}.tmp`);
    try {
      await this.ready;
      const fh = await open(tmp, 'w', 0o640);
      try {
        for await (const chunk of openMessage(job.message)) {
          job.signal.throwIfAborted();
          await fh.write(chunk as Buffer);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
      return { kind: 'delivered', detail: `captured to ${final}`, remoteId: this.fileName(job) };
    } catch (err) {
      await unlink(tmp).catch(() => {});
      const errno = (err as NodeJS.ErrnoException).code;
      // A full or read-only disk clears up; anything else on a local disk will not by retrying.
      const c = classify({ transport: 'capture', errno: errno === 'ABORT_ERR' ? 'ABORT' : errno });
      const transient =
        c.row >= 0 || errno === 'ENOSPC' || errno === 'EROFS' || errno === 'EACCES' || errno === 'EIO';
      return transient || c.outcome === 'transient'
        ? {
            kind: 'transient',
            code: 'RELAY_DELIVERY_TRANSIENT',
            reason: `capture write failed: ${(err as Error).message}`,
          }
        : {
            kind: 'permanent',
            code: 'RELAY_DELIVERY_PERMANENT',
            reason: `capture write failed: ${(err as Error).message}`,
          };
    }
  }
}

export function createCaptureTransport(route: CaptureRoute, _deps: TransportDeps): Transport {
  return new CaptureTransport(route);
}
