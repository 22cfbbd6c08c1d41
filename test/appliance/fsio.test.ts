import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readMessage } from '../../appliance/src/delivery/transport.ts';
import {
  closeFd,
  fdatasyncFd,
  fsyncFd,
  openFd,
  readExactly,
  readRangeSync,
  writeAll,
} from '../../appliance/src/fsio.ts';

describe('fsio: raw-descriptor helpers for the hot path', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaykit-fsio-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes at positions and at the file position, and reads back exactly', async () => {
    const path = join(dir, 'f');
    const fd = await openFd(path, 'wx', 0o600);
    await writeAll(fd, Buffer.from('hello '), null);
    await writeAll(fd, Buffer.from('world'), null);
    await writeAll(fd, Buffer.from('W'), 6);
    await fsyncFd(fd);
    closeFd(fd, true);
    expect(await readFile(path, 'utf8')).toBe('hello World');

    const rd = await openFd(path, 'r');
    const buf = Buffer.alloc(5);
    await readExactly(rd, buf, 6);
    closeFd(rd);
    expect(buf.toString()).toBe('World');
  });

  it('fdatasyncFd syncs a written descriptor and refuses a closed one', async () => {
    const path = join(dir, 'd');
    const fd = await openFd(path, 'wx', 0o600);
    await writeAll(fd, Buffer.from('spooled'), 0);
    await fdatasyncFd(fd);
    closeFd(fd, true);
    expect(await readFile(path, 'utf8')).toBe('spooled');
    // A failed sync must reach the caller (the spool answers 452, never 250).
    await expect(fdatasyncFd(fd)).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('readExactly refuses a file shorter than asked', async () => {
    const path = join(dir, 'short');
    await writeFile(path, 'abc');
    const fd = await openFd(path, 'r');
    try {
      await expect(readExactly(fd, Buffer.alloc(10), 0)).rejects.toThrow('file ended after 3 of 10 bytes');
    } finally {
      closeFd(fd);
    }
  });

  it("'wx' refuses an existing file; closeFd reports a bad descriptor only when strict", async () => {
    const path = join(dir, 'exists');
    await writeFile(path, 'x');
    await expect(openFd(path, 'wx')).rejects.toMatchObject({ code: 'EEXIST' });
    // A descriptor number far above any this process has open (closing a real one twice could
    // close another test's file).
    const never = 1_000_000;
    expect(() => closeFd(never)).not.toThrow();
    expect(() => closeFd(never, true)).toThrow(/EBADF/);
  });

  it('readRangeSync reads a range at once and refuses a file shorter than asked', async () => {
    const path = join(dir, 'range');
    await writeFile(path, 'hello world');
    const buf = Buffer.alloc(5);
    readRangeSync(path, buf, 6);
    expect(buf.toString()).toBe('world');
    expect(() => readRangeSync(path, Buffer.alloc(10), 6)).toThrow('file ended after 5 of 10 bytes');
  });

  it('readMessage reads a small message (64 KiB) within the call, a larger one on the thread pool', async () => {
    // A thread-pool read settles only after an event-loop turn; a read made within the call settles
    // its promise before that, while only microtasks have run.
    const microtasks = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    const small = join(dir, 'small.msg');
    await writeFile(small, Buffer.alloc(64 * 1024, 'a'));
    let got: Buffer | undefined;
    void readMessage({ path: small, offset: 0, length: 64 * 1024 }).then((b) => {
      got = b;
    });
    await microtasks();
    expect(got?.equals(Buffer.alloc(64 * 1024, 'a'))).toBe(true);

    const large = join(dir, 'large.msg');
    await writeFile(large, Buffer.alloc(64 * 1024 + 1, 'b'));
    let later: Buffer | undefined;
    const reading = readMessage({ path: large, offset: 0, length: 64 * 1024 + 1 }).then((b) => {
      later = b;
    });
    await microtasks();
    expect(later).toBeUndefined();
    await reading;
    expect(later?.equals(Buffer.alloc(64 * 1024 + 1, 'b'))).toBe(true);
  });
});
