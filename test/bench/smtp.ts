// Intake benchmark (issue 2): smtp-source drives 20 sessions of 10 KB and 1 MB messages at the
// appliance (capture route) and, in the same run, at a bare smtp-server that fsyncs each message
// before 250. Prints msgs/s for both and the ratio (target >= 0.8 at both sizes).
//
// Every server run gets a freshly made filesystem (BENCH_FS, below). Reusing one directory tree is
// not neutral: deleting the previous run's thousands of files makes ext4 without a journal (this
// machine's root filesystem) skip every recently freed inode on each new file for minutes after
// (fs/ext4/ialloc.c recently_deleted), so whichever server ran second, and relaykit most (it creates
// two files per message), measured the cleanup instead of itself.
//   BENCH_FS=ext4            fresh ext4 with a journal per run, loop-mounted (the VM image's
//                            filesystem); the default when running as root where a loop
//                            device mounts, else tmpdir
//   BENCH_FS=ext4-nojournal  fresh ext4 without a journal per run
//   BENCH_FS=tmpdir          a new directory under the OS temp dir; nothing deleted until the end
// BENCH_APP_ROOT=DIR runs the appliance from another checkout (a worktree) to compare two versions.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const ROOT = join(import.meta.dirname, '../..');
const NODE = process.execPath;
const SMTP_SOURCE = '/usr/sbin/smtp-source';

export interface IntakeResult {
  readonly size: string;
  readonly messages: number;
  readonly relaykit: number;
  readonly bare: number;
  readonly ratio: number;
  /** Server CPU (user + system) per message during the drive, median, milliseconds. */
  readonly relaykitCpuMs: number;
  readonly bareCpuMs: number;
  /** CPU time the hypervisor took from this machine during all drives (noise indicator), %. */
  readonly stealPercent: number;
}

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

interface Workspace {
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
async function workspace(fs: BenchFs, later: (() => Promise<void>)[]): Promise<Workspace> {
  if (fs !== 'tmpdir') return freshExt4(fs, '8G');
  const dir = await mkdtemp(join(tmpdir(), 'relaykit-bench-'));
  // Deleting now would slow the next run (see the top of this file); delete at the very end.
  later.push(() => rm(dir, { recursive: true, force: true }));
  return { dir, dispose: () => {} };
}

/** user + system CPU of a process so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11], [12] are utime, stime (fields 14 and 15 of proc(5)), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** [steal, total] jiffies from /proc/stat's cpu line. */
function stealJiffies(): [number, number] {
  if (!existsSync('/proc/stat')) return [0, 0];
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return [v[7] ?? 0, v.reduce((a, b) => a + b, 0)];
}

export function startProcess(
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        proc.stdout?.off('data', onData);
        resolve({ proc, match: m });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.once('exit', (code) => reject(new Error(`exited ${code} before ready:\n${out}`)));
  });
}

export function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 20_000).unref();
  });
}

function drive(port: number, sessions: number, messages: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const p = spawn(
      SMTP_SOURCE,
      [
        '-4',
        '-d',
        '-s',
        String(sessions),
        '-m',
        String(messages),
        '-l',
        String(bytes),
        '-f',
        'bench@contoso.com',
        '-t',
        'sink@contoso.com',
        `127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.once('exit', (code) => {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`smtp-source exited ${code}: ${err}`));
      else resolve(messages / secs);
    });
  });
}

async function countFiles(dir: string, ext: string): Promise<number> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith(ext)).length;
  } catch {
    return 0;
  }
}

export async function benchIntake(opts: { rounds?: number } = {}): Promise<IntakeResult[]> {
  if (!existsSync(SMTP_SOURCE)) throw new Error('smtp-source not found: apt-get install postfix');
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const fs = benchFs();
  const cases = [
    { size: '10 KB', bytes: 10 * 1024, messages: 4000 },
    { size: '1 MB', bytes: 1024 * 1024, messages: 300 },
  ].filter((c) => !process.env.BENCH_SIZE || c.size === process.env.BENCH_SIZE);
  const results: IntakeResult[] = [];
  const later: (() => Promise<void>)[] = [];
  try {
    for (const c of cases) {
      const rate = { relaykit: [] as number[], bare: [] as number[] };
      const cpu = { relaykit: [] as number[], bare: [] as number[] };
      let steal = 0;
      let total = 0;
      const measure = async (which: 'relaykit' | 'bare', proc: ChildProcess, port: number) => {
        const cpu0 = cpuMs(proc.pid);
        const [s0, t0] = stealJiffies();
        rate[which].push(await drive(port, 20, c.messages, c.bytes));
        const [s1, t1] = stealJiffies();
        cpu[which].push((cpuMs(proc.pid) - cpu0) / c.messages);
        steal += s1 - s0;
        total += t1 - t0;
      };
      for (let round = 0; round < rounds; round++) {
        // Alternate the order so neither side always runs first.
        for (const which of round % 2 === 0
          ? (['bare', 'relaykit'] as const)
          : (['relaykit', 'bare'] as const)) {
          const ws = await workspace(fs, later);
          try {
            if (which === 'bare') {
              const out = join(ws.dir, 'bare');
              await mkdir(out);
              const { proc, match } = await startProcess(
                [join(import.meta.dirname, 'bare-fsync-server.ts'), out],
                /listening (\d+)\n/,
              );
              await measure('bare', proc, Number(match[1]));
              await stop(proc);
            } else {
              const { proc, port, outbox } = await startRelaykit(ws.dir);
              await measure('relaykit', proc, port);
              // Let the capture route finish so the workspace can be released cleanly.
              for (let i = 0; i < 600 && (await countFiles(outbox, '.eml')) < c.messages; i++) {
                await new Promise((r) => setTimeout(r, 100));
              }
              await stop(proc);
            }
          } finally {
            ws.dispose();
          }
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      const r = median(rate.relaykit);
      const b = median(rate.bare);
      results.push({
        size: c.size,
        messages: c.messages,
        relaykit: r,
        bare: b,
        ratio: r / b,
        relaykitCpuMs: median(cpu.relaykit),
        bareCpuMs: median(cpu.bare),
        stealPercent: total > 0 ? (100 * steal) / total : 0,
      });
    }
  } finally {
    for (const f of later) await f();
  }
  return results;
}

async function startRelaykit(dir: string): Promise<{ proc: ChildProcess; port: number; outbox: string }> {
  const cfg = join(dir, 'config.yaml');
  const outbox = join(dir, 'outbox');
  await writeFile(
    cfg,
    stringify({
      listeners: [
        {
          name: 'bench',
          address: '127.0.0.1',
          port: 0,
          auth: false,
          maxMessageSize: '64MB',
          maxClients: 1000,
        },
      ],
      identities: [{ name: 'loopback', networks: ['127.0.0.0/8'] }],
      routes: [
        {
          name: 'local',
          type: 'capture',
          directory: outbox,
          concurrency: Number(process.env.BENCH_CAPTURE_CONCURRENCY ?? 4),
        },
      ],
      defaultRoute: 'local',
      spool: { directory: join(dir, 'spool') },
      http: { enabled: false },
      log: { level: 'info' },
    }),
  );
  const { proc, match } = await startProcess(
    [join(process.env.BENCH_APP_ROOT ?? ROOT, 'appliance/src/main.ts'), 'run', '--config', cfg],
    /"listeners":\[\{"name":"bench","address":"127\.0\.0\.1","port":(\d+)\}\]/,
  );
  return { proc, port: Number(match[1]), outbox };
}
