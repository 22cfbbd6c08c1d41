// File I/O on raw descriptors for the per-message hot path (spool writer, capture transport).
//
// fs/promises FileHandles cost more than the work they wrap when messages are small: every call,
// close included, is a round trip through libuv's thread pool, and each FileHandle is a JS object
// with its own finaliser. Here the calls that may wait on the disk (open, write, read, fsync) stay
// asynchronous on the thread pool, and close is synchronous: closing a regular file that is already
// fsynced (or was only read) returns at once, and saves one thread-pool round trip per file.
import { closeSync, fsync as fsyncCb, open as openCb, read as readCb, write as writeCb } from 'node:fs';
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

/** Closes a descriptor; a failure is thrown only when `strict` (after writes that matter). */
export function closeFd(fd: number, strict = false): void {
  try {
    closeSync(fd);
  } catch (err) {
    if (strict) throw err;
  }
}
