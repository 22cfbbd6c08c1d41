// Capture transport: writes the message bytes as received (trace header included) into a directory,
// one .eml file per delivery leg, atomically (temporary name, fsync, rename). The embedded default's
// only route, so the appliance runs with no cloud account; also what image and crash tests read.
// A repeated attempt after a crash rewrites the same file name, so capture is idempotent.
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RouteConfig } from '../config/schema.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
} from './transport.ts';

type CaptureRoute = Extract<RouteConfig, { type: 'capture' }>;

const TRANSIENT_ERRNOS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EACCES',
  'EPERM',
  'EIO',
  'EMFILE',
  'ENFILE',
  'EBUSY',
  'EAGAIN',
]);

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
    this.ready ??= mkdir(this.directory, { recursive: true }).catch((err: unknown) => {
      this.ready = undefined; // try again next time: the operator may fix the path
      throw err;
    });
    const final = join(this.directory, this.fileName(job));
    const tmp = join(this.directory, `.${this.fileName(job)}.tmp`);
    try {
      await this.ready;
      job.signal.throwIfAborted();
      // The spool file is the message from offset 0 followed by the spool header: let the kernel
      // copy it and cut the header off, instead of streaming every byte through JavaScript.
      if (job.message.offset === 0) await copyFile(job.message.path, tmp);
      else await pipeline(openMessage(job.message), createWriteStream(tmp));
      const fh = await open(tmp, 'r+');
      try {
        await fh.truncate(job.message.length);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
      return { kind: 'delivered', detail: `captured to ${final}`, remoteId: this.fileName(job) };
    } catch (err) {
      await unlink(tmp).catch(() => {});
      const errno = (err as NodeJS.ErrnoException).code ?? '';
      const reason = `capture write failed: ${(err as Error).message}`;
      // Conditions an operator clears (disk full, permissions, a remount) are worth retrying; a
      // path that cannot be a directory is not.
      return job.signal.aborted || TRANSIENT_ERRNOS.has(errno)
        ? { kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', reason }
        : { kind: 'permanent', code: 'RELAY_DELIVERY_PERMANENT', reason };
    }
  }
}

export function createCaptureTransport(route: CaptureRoute, _deps: TransportDeps): Transport {
  return new CaptureTransport(route);
}
