// Spool room, the write path: one message streamed into incoming/<id>.tmp in batches, then committed —
// trailer appended, file fdatasynced, renamed into queue/, directory fsynced (group commit through
// DirSync) — and only then may the receiver answer 250. An abort removes the temporary file.
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { RelayError } from '../errors.ts';
import { closeFd, fdatasyncFd, writeAll } from '../fsio.ts';
import { encodeTrailer } from './entry-format.ts';
import type { MessageSource, SpoolHeader } from './record.ts';
import type { SpoolEntry, SpoolFaults } from './spool-entry.ts';

/** What a writer needs of its spool. */
export interface WriterHost {
  readonly faults: SpoolFaults;
  pathOf(folder: 'queue', id: string, ext: 'msg'): string;
  syncQueueDir(): Promise<void>;
}

const WRITE_BATCH = 256 * 1024;

/** Serialises directory fsyncs so concurrent commits share one (group commit). */
export class DirSync {
  private readonly path: string;
  private readonly faults: SpoolFaults;
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(path: string, faults: SpoolFaults = {}) {
    this.path = path;
    this.faults = faults;
  }

  sync(): Promise<void> {
    // A request made while a sync runs needs a fresh one after it (its rename may be newer);
    // every request arriving meanwhile shares that next sync.
    if (this.running === undefined) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (this.queued === undefined) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.sync();
      });
    }
    return this.queued;
  }

  private run(): Promise<void> {
    const seam = this.faults.syncDir;
    return seam ? seam(this.path, () => this.fsync()) : this.fsync();
  }

  private async fsync(): Promise<void> {
    // The directory stays open: one fsync per group instead of open + fsync + close.
    this.handle ??= open(this.path, 'r');
    try {
      await (await this.handle).sync();
    } catch (err) {
      this.handle = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await (await h?.catch(() => undefined))?.close();
  }
}

/** Streams one message into incoming/ and commits it into queue/. */
export class SpoolWriter {
  readonly id: string;
  private readonly spool: WriterHost;
  private readonly tmpPath: string;
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private done = false;

  constructor(spool: WriterHost, id: string, fd: number, tmpPath: string) {
    this.spool = spool;
    this.id = id;
    this.fd = fd;
    this.tmpPath = tmpPath;
  }

  get bytes(): number {
    return this.written + this.pendingBytes;
  }

  /** Buffers small chunks and writes in batches; resolves when the caller may send more. */
  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= WRITE_BATCH) await this.flush();
  }

  /**
   * Where the bytes written so far lie, flushed, so the receiver can read the message back before it
   * commits (body measurement of large messages). The file is not yet fsynced or renamed.
   */
  async contentSoFar(): Promise<MessageSource> {
    await this.flush();
    return { path: this.tmpPath, offset: 0, length: this.written };
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const fd = this.handle();
    const buf =
      this.pending.length === 1
        ? (this.pending[0] as Buffer)
        : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.spool.faults.beforeWrite?.();
    await writeAll(fd, buf, this.written);
    this.written += buf.length;
  }

  private handle(): number {
    if (this.fd === undefined || this.done) throw new Error('spool writer already closed');
    return this.fd;
  }

  /**
   * Appends the header, fdatasyncs, renames into queue/ and fsyncs the directory. Only when this
   * resolves may the receiver answer 250. Any failure removes the temporary file and throws
   * RELAY_SPOOL_WRITE (452 4.3.1).
   */
  async commit(header: SpoolHeader): Promise<SpoolEntry> {
    try {
      // Body tail and trailer leave in one write.
      const messageLength = this.bytes;
      const trailer = encodeTrailer(header, messageLength);
      this.pending.push(trailer);
      this.pendingBytes += trailer.length;
      await this.flush();
      const fd = this.handle();
      await fdatasyncFd(fd);
      this.fd = undefined;
      this.done = true;
      closeFd(fd, true);
      const finalPath = this.spool.pathOf('queue', this.id, 'msg');
      await rename(this.tmpPath, finalPath);
      await this.spool.syncQueueDir();
      return {
        header,
        deliveries: header.deliveries,
        message: { path: finalPath, offset: 0, length: messageLength },
        folder: 'queue',
      };
    } catch (err) {
      await this.abort();
      throw err instanceof RelayError
        ? err
        : new RelayError('RELAY_SPOOL_WRITE', undefined, { cause: err, detail: { id: this.id } });
    }
  }

  /** Drops the partial message (client vanished, size exceeded, rejected). Never throws. */
  async abort(): Promise<void> {
    this.done = true;
    this.pending = [];
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeFd(fd);
    await unlink(this.tmpPath).catch(() => {});
  }
}
