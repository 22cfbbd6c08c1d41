// Capture transport: writes the message bytes as received (trace header included) into a directory,
// one .eml file per delivery leg, atomically (temporary name, fsync, rename). The embedded default's
// only route, so the appliance runs with no cloud account; also what image and crash tests read.
// A repeated attempt after a crash rewrites the same file name, so capture is idempotent.
import { mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RouteConfig } from '../../config/schema.ts';
import { closeFd, fdatasyncFd, openFd, readExactly, writeAll } from '../../fsio.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
} from '../transport.ts';

type CaptureRoute = Extract<RouteConfig, { type: 'capture' }>;

/** Messages up to this size are copied with one read and one write. */
const SINGLE_READ_LIMIT = 4 * 1024 * 1024;

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
      // Small messages (the common case) take one read and one write; larger ones stream. No
      // copyFile: it tries fchown, which a hardened service's syscall filter forbids.
      const fd = await openFd(tmp, 'w', 0o640);
      try {
        if (job.message.length <= SINGLE_READ_LIMIT) {
          const buf = Buffer.allocUnsafe(job.message.length);
          const src = await openFd(job.message.path, 'r');
          try {
            await readExactly(src, buf, job.message.offset);
          } finally {
            closeFd(src);
          }
          await writeAll(fd, buf, null);
        } else {
          for await (const chunk of openMessage(job.message)) {
            job.signal.throwIfAborted();
            await writeAll(fd, chunk as Buffer, null);
          }
        }
        await fdatasyncFd(fd);
      } finally {
        closeFd(fd);
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
