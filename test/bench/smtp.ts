// Intake benchmark (issue 2): smtp-source drives 20 sessions of 10 KB and 1 MB messages at the
// appliance (capture route) and, in the same run, at a bare smtp-server that fsyncs each message
// before 250. Prints msgs/s for both and the ratio (target >= 0.8 at both sizes).
//
// Every server run gets a freshly made filesystem (BENCH_FS, bench-fs.ts): with one directory tree
// reused, whichever server ran second, and relaykit most (it creates two files per message), measured
// the previous run's cleanup instead of itself.
// BENCH_APP_ROOT=DIR runs the appliance from another checkout (a worktree) to compare two versions.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { benchFs, workspace } from './bench-fs.ts';

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
