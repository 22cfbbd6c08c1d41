// The spool: the one boundary between receiving and delivering. Nothing is acknowledged to a device
// until its message is here durably: written to a temporary file, fsynced, renamed atomically into
// queue/, and the directory fsynced (Haraka's fsync_writestream + qfile pattern). Delivery progress
// lives in a small state file beside each entry, replaced atomically. On start-up the spool sweeps
// temporary files (never acknowledged), quarantines entries it cannot read, and hands every pending
// entry back to the engine.
//
// Layout under the spool directory:
//   incoming/<id>.tmp          message being received (deleted on abort or at start-up)
//   queue/<id>.msg             accepted message (format: entry-format.ts)
//   queue/<id>.state           delivery progress (JSON), absent until the first attempt
//   dead/<id>.msg + .state     dead-lettered entries, state holds the reason per leg
//   quarantine/<name>          unreadable files, with <name>.reason
//   trace/<yyyy-mm-dd>.jsonl   per-message trace log (received, attempts, delivered, dead)
import { createWriteStream, type WriteStream } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { RelayError } from '../errors.ts';
import { closeFd, fsyncFd, openFd, writeAll } from '../fsio.ts';
import type { Logger } from '../log.ts';
import { decodeFooter, decodeHeader, encodeTrailer, FOOTER_LENGTH } from './entry-format.ts';
import { isEntryId, parseEntryId } from './entry-name.ts';
import type { Delivery, MessageSource, SpoolHeader, SpoolState } from './record.ts';

export type SpoolFolder = 'queue' | 'dead';

export interface SpoolEntry {
  readonly header: SpoolHeader;
  /** Current state of each leg (the header's plan, updated by the state file). */
  readonly deliveries: readonly Delivery[];
  readonly message: MessageSource;
  readonly folder: SpoolFolder;
}

export interface RecoveryReport {
  readonly entries: SpoolEntry[];
  readonly swept: number;
  readonly quarantined: string[];
}

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

/** Test seam: lets tests make writes fail as a full disk would. */
export interface SpoolFaults {
  beforeWrite?(): void;
}

const WRITE_BATCH = 256 * 1024;

/** Serialises directory fsyncs so concurrent commits share one (group commit). */
class DirSync {
  private readonly path: string;
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
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

  private async run(): Promise<void> {
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
  private readonly spool: Spool;
  private readonly tmpPath: string;
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private done = false;

  constructor(spool: Spool, id: string, fd: number, tmpPath: string) {
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
   * Appends the header, fsyncs, renames into queue/ and fsyncs the directory. Only when this
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
      await fsyncFd(fd);
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

export class Spool {
  readonly root: string;
  readonly faults: SpoolFaults;
  private readonly logger: Logger;
  private readonly queueSync: DirSync;
  private readonly deadSync: DirSync;
  private traceStream: WriteStream | undefined;
  private traceStreamDay = '';
  private traceDay = '';
  private traceLines: string[] = [];

  private constructor(root: string, logger: Logger, faults: SpoolFaults) {
    this.root = root;
    this.logger = logger;
    this.faults = faults;
    this.queueSync = new DirSync(join(root, 'queue'));
    this.deadSync = new DirSync(join(root, 'dead'));
  }

  static async open(root: string, logger: Logger, faults: SpoolFaults = {}): Promise<Spool> {
    for (const sub of ['incoming', 'queue', 'dead', 'quarantine', 'trace']) {
      await mkdir(join(root, sub), { recursive: true, mode: 0o700 });
    }
    return new Spool(root, logger, faults);
  }

  pathOf(folder: SpoolFolder | 'incoming', id: string, ext: 'msg' | 'state' | 'tmp'): string {
    return join(this.root, folder, `${id}.${ext}`);
  }

  syncQueueDir(): Promise<void> {
    return this.queueSync.sync();
  }

  async begin(id: string): Promise<SpoolWriter> {
    const tmp = this.pathOf('incoming', id, 'tmp');
    try {
      this.faults.beforeWrite?.();
      return new SpoolWriter(this, id, await openFd(tmp, 'wx', 0o600), tmp);
    } catch (err) {
      throw new RelayError('RELAY_SPOOL_WRITE', undefined, { cause: err, detail: { id } });
    }
  }

  /** Start-up: sweep temporaries, quarantine unreadable entries, return everything in queue/. */
  async recover(): Promise<RecoveryReport> {
    let swept = 0;
    for (const name of await readdir(join(this.root, 'incoming'))) {
      await rm(join(this.root, 'incoming', name), { force: true, recursive: true });
      swept++;
    }
    const quarantined: string[] = [];
    const entries: SpoolEntry[] = [];
    const names = (await readdir(join(this.root, 'queue'))).sort();
    const ids = new Set<string>();
    for (const name of names) {
      const m = /^(.+)\.(msg|state|tmp)$/.exec(name);
      if (m && m[2] === 'msg' && isEntryId(m[1] as string)) ids.add(m[1] as string);
    }
    for (const name of names) {
      const m = /^(.+)\.(msg|state|tmp)$/.exec(name);
      const id = m?.[1];
      if (m && id !== undefined && isEntryId(id)) {
        if (m[2] === 'msg') continue;
        if (ids.has(id) && m[2] === 'state') continue;
        // A state file without its message (entry finished before the crash) or a stale temporary.
        await unlink(join(this.root, 'queue', name)).catch(() => {});
        continue;
      }
      await this.quarantine(join(this.root, 'queue', name), name, 'not a spool file name');
      quarantined.push(name);
    }
    for (const id of ids) {
      try {
        entries.push(await this.read('queue', id));
      } catch (err) {
        const reason = (err as Error).message;
        await this.quarantine(this.pathOf('queue', id, 'msg'), `${id}.msg`, reason);
        await unlink(this.pathOf('queue', id, 'state')).catch(() => {});
        quarantined.push(`${id}.msg`);
      }
    }
    if (quarantined.length > 0) {
      this.logger.warn({ quarantined }, 'spool: quarantined unreadable entries');
    }
    return { entries, swept, quarantined };
  }

  /** Reads one entry; throws RELAY_SPOOL_NOT_FOUND, or a plain Error when the file is corrupt. */
  async read(folder: SpoolFolder, id: string): Promise<SpoolEntry> {
    const path = this.pathOf(folder, id, 'msg');
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RelayError('RELAY_SPOOL_NOT_FOUND', `no ${folder} entry ${id}`);
      }
      throw err;
    }
    let header: SpoolHeader;
    let messageLength: number;
    try {
      const { size } = await fh.stat();
      if (size < FOOTER_LENGTH) throw new Error(`file too short (${size} bytes)`);
      const footerBuf = Buffer.alloc(FOOTER_LENGTH);
      await fh.read(footerBuf, 0, FOOTER_LENGTH, size - FOOTER_LENGTH);
      const footer = decodeFooter(footerBuf, size);
      const headerBuf = Buffer.alloc(footer.headerLength);
      await fh.read(headerBuf, 0, footer.headerLength, footer.messageLength);
      header = decodeHeader(headerBuf);
      if (header.id !== id) throw new Error(`header id ${header.id} does not match file name`);
      messageLength = footer.messageLength;
    } finally {
      await fh.close();
    }
    const deliveries = (await this.readState(folder, id)) ?? header.deliveries;
    return { header, deliveries, message: { path, offset: 0, length: messageLength }, folder };
  }

  private async readState(folder: SpoolFolder, id: string): Promise<readonly Delivery[] | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(folder, id, 'state'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const state = JSON.parse(text) as SpoolState;
      if (!Array.isArray(state.deliveries)) throw new Error('no deliveries');
      return state.deliveries;
    } catch (err) {
      // The message itself is intact; replaying from the header may repeat a delivery but loses
      // nothing.
      this.logger.warn({ id, err: (err as Error).message }, 'spool: unreadable state file ignored');
      return undefined;
    }
  }

  /** Replaces the entry's state file atomically. */
  async saveState(folder: SpoolFolder, id: string, deliveries: readonly Delivery[]): Promise<void> {
    const state: SpoolState = { deliveries, updatedAt: Date.now() };
    const final = this.pathOf(folder, id, 'state');
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
  }

  /** Every leg delivered: the entry leaves the spool. `hasState: false` skips a needless unlink. */
  async remove(folder: SpoolFolder, id: string, hasState = true): Promise<void> {
    if (hasState) await unlink(this.pathOf(folder, id, 'state')).catch(() => {});
    await unlink(this.pathOf(folder, id, 'msg'));
  }

  /** Moves an entry to dead/ with its final state (which carries each dead leg's reason). */
  async deadLetter(id: string, deliveries: readonly Delivery[]): Promise<SpoolEntry> {
    await this.saveState('dead', id, deliveries);
    await rename(this.pathOf('queue', id, 'msg'), this.pathOf('dead', id, 'msg'));
    await this.deadSync.sync();
    await unlink(this.pathOf('queue', id, 'state')).catch(() => {});
    return this.read('dead', id);
  }

  /** Moves a dead entry back to queue/ with its dead legs pending again. */
  async requeue(id: string, now: number): Promise<SpoolEntry> {
    const entry = await this.read('dead', id);
    const deliveries = entry.deliveries.map((d) => {
      if (d.status !== 'dead') return d;
      const { deadReason: _reason, ...rest } = d;
      return { ...rest, status: 'pending' as const, nextAttemptAt: now };
    });
    await this.saveState('queue', id, deliveries);
    await rename(this.pathOf('dead', id, 'msg'), this.pathOf('queue', id, 'msg'));
    await this.queueSync.sync();
    await unlink(this.pathOf('dead', id, 'state')).catch(() => {});
    return this.read('queue', id);
  }

  async delete(folder: SpoolFolder, id: string): Promise<void> {
    await this.read(folder, id);
    await this.remove(folder, id);
  }

  async list(folder: SpoolFolder): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    for (const name of (await readdir(join(this.root, folder))).sort()) {
      const m = /^(.+)\.msg$/.exec(name);
      if (!m || !isEntryId(m[1] as string)) continue;
      try {
        out.push(await this.read(folder, m[1] as string));
      } catch {
        // Finished or moved meanwhile, or corrupt (recovery quarantines those): skip in listings.
      }
    }
    return out;
  }

  /** Number of entries in a folder, from the directory listing alone (no file is opened). */
  async count(folder: SpoolFolder): Promise<number> {
    return (await readdir(join(this.root, folder))).filter(
      (n) => n.endsWith('.msg') && isEntryId(n.slice(0, -4)),
    ).length;
  }

  async quarantine(path: string, name: string, reason: string): Promise<void> {
    const target = join(this.root, 'quarantine', `${Date.now().toString(36)}-${name}`);
    await rename(path, target);
    await writeFile(`${target}.reason`, `${reason}\n`);
  }

  async listQuarantine(): Promise<string[]> {
    return (await readdir(join(this.root, 'quarantine'))).filter((n) => !n.endsWith('.reason')).sort();
  }

  /**
   * Appends to the per-message trace log. Buffered and written in batches (one write per tick, not
   * per event): the spool files are the durable record, the trace is for people.
   */
  trace(event: TraceEvent): void {
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    if (day !== this.traceDay) this.flushTrace();
    this.traceDay = day;
    this.traceLines.push(`${JSON.stringify({ at: now.toISOString(), ...event })}\n`);
    if (this.traceLines.length === 1) setImmediate(() => this.flushTrace());
  }

  private flushTrace(): void {
    if (this.traceLines.length === 0) return;
    const text = this.traceLines.join('');
    this.traceLines = [];
    if (this.traceStream === undefined || this.traceStreamDay !== this.traceDay) {
      this.traceStream?.end();
      this.traceStreamDay = this.traceDay;
      this.traceStream = createWriteStream(join(this.root, 'trace', `${this.traceDay}.jsonl`), {
        flags: 'a',
        mode: 0o600,
      });
      this.traceStream.on('error', (err) => this.logger.error({ err }, 'spool: trace log write failed'));
    }
    this.traceStream.write(text);
  }

  /** Health probe: can we create, sync and delete a file in incoming/ right now? */
  async probeWritable(): Promise<boolean> {
    const path = join(this.root, 'incoming', `.probe-${process.pid}-${Date.now()}.tmp`);
    try {
      this.faults.beforeWrite?.();
      await writeFile(path, 'probe');
      await unlink(path);
      return true;
    } catch {
      await unlink(path).catch(() => {});
      return false;
    }
  }

  async depthAndOldest(): Promise<{ depth: number; oldestReceivedAt: number | undefined }> {
    const names = (await readdir(join(this.root, 'queue'))).filter((n) => n.endsWith('.msg')).sort();
    const first = names[0];
    return {
      depth: names.length,
      oldestReceivedAt: first ? parseEntryId(first.slice(0, -4))?.receivedAt : undefined,
    };
  }

  async close(): Promise<void> {
    this.flushTrace();
    await this.queueSync.close();
    await this.deadSync.close();
    const t = this.traceStream;
    this.traceStream = undefined;
    if (t) await new Promise<void>((resolve) => t.end(resolve));
  }
}
