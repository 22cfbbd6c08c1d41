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
import { openFd } from '../fsio.ts';
import type { Logger } from '../log.ts';
import { decodeFooter, decodeHeader, FOOTER_LENGTH } from './entry-format.ts';
import { isEntryId, parseEntryId } from './entry-name.ts';
import type { Delivery, SpoolHeader, SpoolState } from './record.ts';
import type { SpoolEntry, SpoolFaults, SpoolFolder } from './spool-entry.ts';
import { DirSync, SpoolWriter } from './spool-writer.ts';
import { type TraceEvent, TraceLog } from './trace-log.ts';

/** Sequence for writability probe file names (unique within this process). */
let probeSeq = 0;

export type { SpoolEntry, SpoolFaults, SpoolFolder } from './spool-entry.ts';
export { SpoolWriter } from './spool-writer.ts';
export type { TraceEvent } from './trace-log.ts';

export interface RecoveryReport {
  readonly entries: SpoolEntry[];
  readonly swept: number;
  readonly quarantined: string[];
}

export class Spool {
  readonly root: string;
  readonly faults: SpoolFaults;
  private readonly logger: Logger;
  private readonly queueSync: DirSync;
  private readonly deadSync: DirSync;
  private readonly traceLog: TraceLog;

  private constructor(root: string, logger: Logger, faults: SpoolFaults) {
    this.root = root;
    this.logger = logger;
    this.faults = faults;
    this.queueSync = new DirSync(join(root, 'queue'), faults);
    this.deadSync = new DirSync(join(root, 'dead'), faults);
    this.traceLog = new TraceLog(join(root, 'trace'), logger);
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

  /** Appends to the per-message trace log (trace-log.ts). */
  trace(event: TraceEvent): void {
    this.traceLog.write(event);
  }

  /** Health probe: can we create, sync and delete a file in incoming/ right now? */
  async probeWritable(): Promise<boolean> {
    // A name of its own per probe: the health model is read by /readyz, /status and the alert checker
    // at once, and two probes sharing a name (same millisecond) made one fail to unlink the other's
    // file, so readiness flapped to 503 on a healthy spool.
    const path = join(this.root, 'incoming', `.probe-${process.pid}-${++probeSeq}.tmp`);
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
    await this.queueSync.close();
    await this.deadSync.close();
    await this.traceLog.close();
  }
}
