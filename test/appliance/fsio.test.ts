import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeFd, fsyncFd, openFd, readExactly, writeAll } from '../../appliance/src/fsio.ts';

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
});
