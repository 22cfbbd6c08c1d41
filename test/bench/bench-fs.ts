// Where a benchmark's server keeps its files (BENCH_FS): the intake bench gives every server run a
// fresh file system, the load bench gives the appliance's spool one.
//
// Reusing one directory tree is not neutral: deleting the previous run's thousands of files makes
// ext4 without a journal (this CI VM's root file system) skip every recently freed inode on each new
// file for minutes after (fs/ext4/ialloc.c recently_deleted), so a file per message gets dearer the
// more mail went through: a throwaway 20-writer create/fdatasync/rename/unlink loop cost 1.3-1.8 ms of
// CPU per message there against 0.2-0.3 ms on a journaled ext4. The appliance's spool lives on a
// journaled ext4 (the VM image's data partition), so that is what the benches measure by default.
//   BENCH_FS=ext4            fresh ext4 with a journal per run, loop-mounted (the VM image's
//                            filesystem); the default when running as root where a loop
//                            device mounts, else tmpdir
//   BENCH_FS=ext4-nojournal  fresh ext4 without a journal per run
//   BENCH_FS=tmpdir          a new directory under the OS temp dir; nothing deleted until the end
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type BenchFs = 'ext4' | 'ext4-nojournal' | 'tmpdir';

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const which = (tool: string) => SBIN.map((d) => join(d, tool)).find((p) => existsSync(p));

let chosen: BenchFs | undefined;

export function benchFs(): BenchFs {
  const asked = process.env.BENCH_FS;
  if (asked === 'ext4' || asked === 'ext4-nojournal' || asked === 'tmpdir') return asked;
  if (asked) throw new Error(`BENCH_FS must be ext4, ext4-nojournal or tmpdir, not ${asked}`);
  chosen ??= canLoopMount() ? 'ext4' : 'tmpdir';
  return chosen;
}

/** Root, mkfs.ext4 and a loop device that really mounts (a container may have none). */
function canLoopMount(): boolean {
  if (process.getuid?.() !== 0 || !which('mkfs.ext4') || !which('mount') || !which('umount')) return false;
  try {
    freshExt4('ext4', '64M').dispose();
    return true;
  } catch {
    return false;
  }
}

export interface Workspace {
  readonly dir: string;
  dispose(): void;
}

/** A sparse image under the OS temp dir, made into a new ext4 and loop-mounted. */
function freshExt4(fs: 'ext4' | 'ext4-nojournal', size: string): Workspace {
  const base = mkdtempSync(join(tmpdir(), 'relaykit-bench-'));
  const image = `${base}.img`;
  const run = (tool: string, args: string[]) =>
    execFileSync(which(tool) ?? tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let mounted = false;
  const dispose = () => {
    if (mounted) run('umount', [base]);
    mounted = false;
    rmSync(image, { force: true });
    rmSync(base, { recursive: true, force: true });
  };
  try {
    run('truncate', ['-s', size, image]);
    run('mkfs.ext4', ['-q', '-F', ...(fs === 'ext4-nojournal' ? ['-O', '^has_journal'] : []), image]);
    run('mount', ['-o', 'loop', image, base]);
    mounted = true;
    return { dir: base, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

export function describeFs(fs: BenchFs): string {
  switch (fs) {
    case 'ext4':
      return 'each server run on a fresh loop-mounted ext4 with a journal (BENCH_FS=ext4)';
    case 'ext4-nojournal':
      return 'each server run on a fresh loop-mounted ext4 without a journal (BENCH_FS=ext4-nojournal)';
    case 'tmpdir':
      return `each server run in a new directory under ${tmpdir()}, deleted at the end (BENCH_FS=tmpdir; results depend on that filesystem's state)`;
  }
}

/** A directory on a filesystem nobody has used yet (or, for tmpdir, a new directory). */
export async function workspace(fs: BenchFs, later: (() => Promise<void>)[]): Promise<Workspace> {
  if (fs !== 'tmpdir') return freshExt4(fs, '8G');
  const dir = await mkdtemp(join(tmpdir(), 'relaykit-bench-'));
  // Deleting now would slow the next run (see the top of this file); delete at the very end.
  later.push(() => rm(dir, { recursive: true, force: true }));
  return { dir, dispose: () => {} };
}

/** Runs `fn` in a workspace of its own on the chosen file system, released (and deleted) after. */
export async function withWorkspace<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const later: (() => Promise<void>)[] = [];
  const ws = await workspace(benchFs(), later);
  try {
    return await fn(ws.dir);
  } finally {
    ws.dispose();
    for (const f of later) await f();
  }
}
