// File I/O on raw descriptors for the per-message hot path (spool writer, capture transport,
// delivery reads).
//
// fs/promises FileHandles cost more than the work they wrap when messages are small: every call,
// close included, is a round trip through libuv's thread pool (about 45 µs of CPU in wake-ups and
// hand-overs against about 6 µs for the same call made synchronously), and each FileHandle is a JS
// object with its own finaliser. The rule here:
// - calls that may wait on the disk stay asynchronous on the thread pool: fsync always (it waits for
//   the device), open/write of files being written, reads of large files;
// - close is synchronous: closing a regular file that is already fsynced (or was only read) returns
//   at once, and saves one round trip per file;
// - a small read (at most SYNC_READ_MAX bytes) of a file written moments ago is synchronous
//   (readRangeSync: open + read + close in one go): the delivery side reads a spool file the
//   receiver has just written and fsynced, so its pages sit in the page cache and the read is a
//   memory copy; three thread-pool round trips become three plain system calls.
import {
  closeSync,
  fdatasync as fdatasyncCb,
  fsync as fsyncCb,
  open as openCb,
  openSync,
  read as readCb,
  readSync,
  write as writeCb,
} from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const openAsync = promisify(openCb);

// Plain callbacks rather than util.promisify: fs.write/fs.read's promisified forms allocate a result
// object per call.
function writeAsync(fd: number, buf: Buffer, off: number, len: number, pos: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function readAsync(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

export const fsyncFd: (fd: number) => Promise<void> = promisify(fsyncCb);

/**
 * fdatasync: the file's bytes and what reading them back needs (its size, its blocks), without the
 * timestamps fsync also writes. Enough for a new file whose name a directory fsync then makes
 * durable (the spool commit), and for a capture file: about 30 µs of CPU less per message on ext4
 * than fsync.
 */
export const fdatasyncFd: (fd: number) => Promise<void> = promisify(fdatasyncCb);

/** Opens a file and returns its descriptor (flags as for fs.open: 'r', 'w', 'wx', …). */
export function openFd(path: string, flags: string, mode?: number): Promise<number> {
  return openAsync(path, flags, mode);
}

/** Writes all of `buf` at `position` (or at the file position when null). */
export async function writeAll(fd: number, buf: Buffer, position: number | null): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await writeAsync(fd, buf, off, buf.length - off, position === null ? null : position + off);
    off += n;
  }
}

/** Fills `buf` from `position`; throws when the file ends first. */
export async function readExactly(fd: number, buf: Buffer, position: number): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await readAsync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) throw new Error(`file ended after ${got} of ${buf.length} bytes`);
    got += n;
  }
}

/** Largest read done synchronously (readRangeSync): a small file that sits in the page cache. */
export const SYNC_READ_MAX = 64 * 1024;

/**
 * Fills `buf` from `position` of the file at `path` synchronously (open, read, close); throws when
 * the file ends first. For buffers of at most SYNC_READ_MAX bytes of a recently written file only.
 */
export function readRangeSync(path: string, buf: Buffer, position: number): void {
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, position + got);
      if (n === 0) throw new Error(`file ended after ${got} of ${buf.length} bytes`);
      got += n;
    }
  } finally {
    closeFd(fd);
  }
}

/** Closes a descriptor; a failure is thrown only when `strict` (after writes that matter). */
export function closeFd(fd: number, strict = false): void {
  try {
    closeSync(fd);
  } catch (err) {
    if (strict) throw err;
  }
}

/**
 * Replaces a file atomically: written to `<path>.tmp`, fsynced, renamed over `path`, and the
 * directory fsynced, so a crash leaves the old content or the new, never a torn file.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = await openFd(tmp, 'w', mode);
  try {
    await writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, 0);
    await fsyncFd(fd);
  } finally {
    closeFd(fd);
  }
  await rename(tmp, path);
  const dir = await openFd(dirname(path), 'r');
  try {
    await fsyncFd(dir);
  } finally {
    closeFd(dir);
  }
}

/**
 * A small JSON state file (lockouts, sessions) kept across restarts. load() tolerates anything: a
 * missing file is a fresh start, an unreadable or malformed one is reported once through `warn` and
 * ignored (never fatal; the next save replaces it). save() is coalesced: at most one write in flight
 * and one queued, each writing the latest value.
 */
export class JsonStateFile<T> {
  private readonly path: string;
  private readonly warn: (reason: string) => void;
  private latest: (() => T) | undefined;
  private writing: Promise<void> | undefined;

  constructor(path: string, warn: (reason: string) => void) {
    this.path = path;
    this.warn = warn;
  }

  /** The saved value as `parse` accepts it (parse returns undefined or throws for a bad shape). */
  async load(parse: (raw: unknown) => T | undefined): Promise<T | undefined> {
    let text: string;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warn((err as Error).message);
      return undefined;
    }
    try {
      const value = parse(JSON.parse(text));
      if (value === undefined) this.warn('unexpected content');
      return value;
    } catch (err) {
      this.warn((err as Error).message);
      return undefined;
    }
  }

  /** Schedules a write of `value()` (called when the write starts, so it is the newest state). */
  save(value: () => T): void {
    this.latest = value;
    this.writing ??= this.drain();
  }

  /** Resolves when every save so far is on disk (or failed, and was reported). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    await Promise.resolve();
    while (this.latest) {
      const value = this.latest;
      this.latest = undefined;
      try {
        await writeFileAtomic(this.path, JSON.stringify(value()));
      } catch (err) {
        this.warn(`cannot write: ${(err as Error).message}`);
      }
    }
    this.writing = undefined;
  }
}
