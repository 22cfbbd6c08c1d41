// Whole-path load benchmark (issue 15, item 4): the appliance as a child process (the shipped bundle's
// `run`, or src/main.ts) relaying 10 KB messages from a raw SMTP client to the Graph simulator, which answers every
// request after 100 ms and allows 4 concurrent requests per mailbox (Outlook's limit), so one mailbox
// tops out at 40 msg/s. Measured from the child's /proc entry: RSS when idle after start, peak RSS
// with 2,000 messages queued, CPU per delivered message (intake, spool, routing, delivery); at the
// client: SMTP reply time after the end of DATA at a steady 100 msg/s; at the simulator: delivered
// rate for one and for ten mailboxes; for reference, the CPU per message of a bare undici sendMail and
// of the Graph transport alone (load-floor-child.ts), and of the intake bench's bare fsync smtp-server
// taking in the same burst; their sum is the whole path's floor. The spool sits on a fresh file system
// (BENCH_FS, bench-fs.ts: by default a journaled ext4 as on the VM image's data partition).
// BENCH_APP_ROOT=DIR runs the appliance of another checkout;
// BENCH_LOAD_QUICK=1 stops after the one-mailbox phase; BENCH_LOAD_STEADY=1 runs only the steady
// 100 msg/s phase (reply times; for profiling the intake with BENCH_NODE_FLAGS='... --cpu-prof');
// BENCH_NODE_FLAGS replaces the shipped V8 flags (NODE_OPTIONS and command line) and the MALLOC_* settings the child runs with.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  CLIENT,
  type Harness,
  SECRET,
  simChildCloud,
  startHarness,
  TENANT,
} from '../helpers/sim/graph-harness.ts';
import { testPki } from '../helpers/sim/pki.ts';
import { withWorkspace } from './bench-fs.ts';
import type { BenchFigure } from './graph.ts';
import type { FloorInput } from './load-floor-child.ts';
import { benchNodeFlags, shippedMallocEnv } from './node-options.ts';
import { cpuMs, startProcess, stop } from './smtp.ts';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const MB = 1024 * 1024;

/** VmRSS / VmHWM / RssAnon / RssFile of a process, bytes. */
function memOf(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN) * 1024;
}

/**
 * The file system the spool lives on, as the CPU figure's note says it: the mount holding `dir` from
 * /proc/mounts, and for ext4 whether it has a journal (/proc/fs/jbd2/<device>-<n>). It matters: a
 * file per message costs several times more on an ext4 without a journal (bench-fs.ts says why).
 */
function spoolFileSystem(dir: string): string {
  let best: string[] = [];
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    const at = f[1] ?? '';
    if ((dir === at || dir.startsWith(at === '/' ? '/' : `${at}/`)) && at.length >= (best[1]?.length ?? -1))
      best = f;
  }
  const [device = '?', , type = '?'] = best;
  if (type !== 'ext4') return `spool on ${type} ${device}`;
  const name = device.replace(/^\/dev\//, '');
  let journal = false;
  try {
    journal = readdirSync('/proc/fs/jbd2').some((j) => j.startsWith(`${name}-`));
  } catch {}
  return `spool on ext4 ${device} (${journal ? 'journal' : 'no journal'})`;
}

/** A 10 KB message (headers + body) from `from`. */
function message(from: string, n: number): string {
  const head = `From: ${from}\r\nTo: alice@contoso.com\r\nSubject: load ${n}\r\nMessage-ID: <load-${n}-${from}>\r\n\r\n`;
  const line = `${'relaykit load bench line '.repeat(3).slice(0, 70)}\r\n`;
  return head + line.repeat(Math.ceil((10 * 1024 - head.length) / line.length));
}

/** A minimal SMTP client on one connection: commands in turn, replies parsed, DATA timed. */
class RawSmtp {
  private readonly socket: Socket;
  private buf = '';
  private waiting: ((reply: string) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (;;) {
        const m = /(^|\n)(\d{3}) [^\n]*\n/.exec(this.buf);
        if (!m) return;
        const reply = this.buf.slice(0, m.index + m[0].length);
        this.buf = this.buf.slice(m.index + m[0].length);
        const w = this.waiting;
        this.waiting = undefined;
        w?.(reply);
      }
    });
  }

  static async open(port: number): Promise<RawSmtp> {
    const socket = connect(port, '127.0.0.1');
    const c = new RawSmtp(socket);
    await c.reply();
    await c.cmd('EHLO bench.local');
    return c;
  }

  private reply(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  async cmd(line: string): Promise<string> {
    const r = this.reply();
    this.socket.write(`${line}\r\n`);
    const text = await r;
    if (!/^[23]/.test(text.split('\n').at(-2) ?? text)) throw new Error(`${line}: ${text}`);
    return text;
  }

  /** Sends one message; returns ms from the final dot to the 250. */
  async send(from: string, body: string): Promise<number> {
    await this.cmd(`MAIL FROM:<${from}>`);
    await this.cmd('RCPT TO:<alice@contoso.com>');
    await this.cmd('DATA');
    this.socket.write(body);
    const r = this.reply();
    const t0 = performance.now();
    this.socket.write('\r\n.\r\n');
    const text = await r;
    const ms = performance.now() - t0;
    if (!text.startsWith('250')) throw new Error(`DATA: ${text}`);
    return ms;
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Sends `count` messages over `sessions` connections, as fast as replies come; returns reply times. */
async function burst(port: number, senders: string[], count: number, sessions: number): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const c = await RawSmtp.open(port);
      for (let n = next++; n < count; n = next++) {
        const from = senders[n % senders.length] as string;
        times.push(await c.send(from, message(from, n)));
      }
      c.close();
    }),
  );
  return times;
}

/** `rate` messages a second for `seconds`, spread over `sessions` connections; returns reply times. */
async function steady(
  port: number,
  senders: string[],
  rate: number,
  seconds: number,
  sessions: number,
): Promise<number[]> {
  const times: number[] = [];
  const start = performance.now();
  const total = rate * seconds;
  await Promise.all(
    Array.from({ length: sessions }, async (_, s) => {
      const c = await RawSmtp.open(port);
      for (let n = s; n < total; n += sessions) {
        // Message n leaves at start + n / rate, whatever the previous reply took.
        const due = start + (n * 1000) / rate - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
        const from = senders[n % senders.length] as string;
        times.push(await c.send(from, message(from, 100_000 + n)));
      }
      c.close();
    }),
  );
  return times;
}

/** Steady 100 msg/s for 10 s over ten mailboxes, deliveries running alongside: reply times. */
async function steadyFigures(port: number, senders: string[]): Promise<BenchFigure[]> {
  const times = (await steady(port, senders, 100, 10, 20)).sort((a, b) => a - b);
  const p50 = quantile(times, 0.5);
  const p99 = quantile(times, 0.99);
  return [
    {
      name: 'load: SMTP reply after end of DATA at 100 msg/s, p50',
      value: p50,
      unit: 'ms',
      target: '<= 15 ms',
      pass: p50 <= 15,
    },
    {
      name: 'load: SMTP reply after end of DATA at 100 msg/s, p99',
      value: p99,
      unit: 'ms',
      target: '<= 60 ms',
      pass: p99 <= 60,
      note: `${times.length} messages, max ${quantile(times, 1).toFixed(0)} ms`,
    },
  ];
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`load bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What runs: by default the esbuild bundle the images ship (appliance/image/bundle.ts: no type
 * stripping, dependencies inlined, lazy chunks); BENCH_LOAD_SOURCE=1 runs src/main.ts as `npm start`
 * does. BENCH_APP_ROOT=DIR takes either from another checkout.
 */
async function applianceEntry(dir: string): Promise<string> {
  const root = process.env.BENCH_APP_ROOT ?? ROOT;
  if (process.env.BENCH_LOAD_SOURCE) return join(root, 'appliance/src/main.ts');
  const out = join(dir, 'bundle');
  const { bundle } = (await import(join(root, 'appliance/image/bundle.ts'))) as {
    bundle: (outDir: string) => Promise<unknown>;
  };
  await bundle(out);
  return join(out, 'relaykit-appliance.mjs');
}

/** CPU per message the bare fsync smtp-server of the intake bench pays for the same burst as the relay's. */
async function intakeFloor(): Promise<number> {
  return withWorkspace(async (dir) => {
    const out = join(dir, 'bare');
    await mkdir(out);
    const { proc, match } = await startProcess(
      [...benchNodeFlags(), join(import.meta.dirname, 'bare-fsync-server.ts'), out],
      /listening (\d+)\n/,
      process.env.BENCH_NODE_FLAGS === undefined ? shippedMallocEnv() : {},
    );
    try {
      const cpu0 = cpuMs(proc.pid);
      await burst(Number(match[1]), ['sender1@contoso.com'], 2000, 20);
      return (cpuMs(proc.pid) - cpu0) / 2000;
    } finally {
      await stop(proc);
    }
  });
}

/**
 * Reference points for the CPU figure (no target), each in a child with the shipped V8 flags and its
 * files on a file system like the relay's spool: one 10 KB message read from its file, sent to the
 * same simulator and unlinked, by a bare undici request and by relaykit's GraphTransport alone (no
 * receiver, spool, engine or logs); the same burst taken in by a bare fsync smtp-server; and the
 * whole path's floor, bare intake plus bare undici delivery, against `relayCpuMs`.
 */
async function floorFigures(h: Harness, relayCpuMs: number): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const delivery: Record<string, number> = {};
  for (const mode of ['undici', 'transport'] as const) {
    const input: Omit<FloorInput, 'dir'> = {
      mode,
      count: 1000,
      ...simChildCloud(h),
      mailbox: 'sender1@contoso.com',
      message: message('sender1@contoso.com', 0),
    };
    const { stdout } = await withWorkspace((dir) =>
      run(
        process.execPath,
        [
          ...benchNodeFlags(),
          join(import.meta.dirname, 'load-floor-child.ts'),
          JSON.stringify({ ...input, dir: join(dir, 'floor') }),
        ],
        { env: { ...process.env, BENCH_GRAPH_SECRET: SECRET }, maxBuffer: 1 << 20 },
      ),
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { cpuMsPerMessage: number };
    delivery[mode] = out.cpuMsPerMessage;
    figures.push({
      name: `load: floor, CPU per 10 KB message delivered by ${mode === 'undici' ? 'a bare undici request' : "relaykit's Graph transport alone"} (file read + sendMail + unlink)`,
      value: out.cpuMsPerMessage,
      unit: 'ms',
    });
  }
  const intake = await intakeFloor();
  figures.push({
    name: 'load: floor, CPU per 10 KB message taken in by a bare fsync smtp-server (the same burst)',
    value: intake,
    unit: 'ms',
  });
  const floor = intake + (delivery.undici ?? Number.NaN);
  figures.push({
    name: 'load: floor of the whole path, bare intake + bare undici delivery',
    value: floor,
    unit: 'ms',
    note: `the relay's CPU per delivered message is ${(relayCpuMs - floor).toFixed(2)} ms above it (${((100 * (relayCpuMs - floor)) / relayCpuMs).toFixed(0)} % of its ${relayCpuMs.toFixed(2)} ms)`,
  });
  return figures;
}

export function benchLoad(): Promise<BenchFigure[]> {
  return withWorkspace(benchLoadIn);
}

/** The load bench with its spool, config and bundle in `dir`. */
async function benchLoadIn(dir: string): Promise<BenchFigure[]> {
  const senders = Array.from({ length: 10 }, (_, i) => `sender${i + 1}@contoso.com`);
  const h = await startHarness({
    graph: { messagesPerMinute: 1_000_000, maxConcurrent: 4, latencyMs: 100 },
    mailboxes: senders.map((address) => ({ address })),
  });
  const secretFile = join(dir, 'secret.txt');
  await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    stringify({
      listeners: [{ name: 'bench', address: '127.0.0.1', port: 0, auth: false, maxClients: 1000 }],
      identities: [{ name: 'loopback', networks: ['127.0.0.0/8'] }],
      routes: [
        {
          name: 'm365',
          type: 'graph',
          tenantId: TENANT,
          clientId: CLIENT,
          clientSecret: 'graph-secret',
          // Pacing is the simulator's to enforce here: the bench measures the relay, not EXO's 30/min.
          messagesPerMinute: 10_000,
          concurrency: 64,
        },
      ],
      defaultRoute: 'm365',
      spool: { directory: join(dir, 'spool') },
      http: { enabled: false },
      log: { level: 'info' },
      credentials: { 'graph-secret': { file: secretFile } },
      cloud: { authorityHost: h.entra.url, graphBaseUrl: h.graph.baseUrl, caFile: testPki().caFile },
    }),
  );
  // The V8 flags the images ship (relaykit.service NODE_OPTIONS and ExecStart); BENCH_NODE_FLAGS
  // replaces them (BENCH_NODE_FLAGS=' ' for Node's defaults).
  const flags = benchNodeFlags();
  const entry = await applianceEntry(dir);
  const { proc, match } = await startProcess(
    [...flags, entry, 'run', '--config', cfg],
    /"listeners":\[\{"name":"bench","address":"127\.0\.0\.1","port":(\d+)\}\]/,
    process.env.BENCH_NODE_FLAGS === undefined ? shippedMallocEnv() : {},
  );
  const pid = proc.pid as number;
  const port = Number(match[1]);
  const figures: BenchFigure[] = [];
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const idle = memOf(pid, 'VmRSS');
    figures.push({
      name: 'load: idle RSS after start (Graph route, no traffic)',
      value: idle / MB,
      unit: 'MB',
      target: '<= 80 MB',
      pass: idle <= 80 * MB,
      // File-backed is mostly the node binary's pages (bare Node: ~33 MB); it varies by ±3 MB between
      // identical runs, so compare changes on the anonymous part.
      note: `anonymous ${(memOf(pid, 'RssAnon') / MB).toFixed(1)} MB, file-backed ${(memOf(pid, 'RssFile') / MB).toFixed(1)} MB`,
    });

    if (process.env.BENCH_LOAD_STEADY) {
      figures.push(...(await steadyFigures(port, senders)));
      return figures;
    }
    // 2,000 x 10 KB for one mailbox over 20 sessions: intake outruns Graph's 40 msg/s, so most of them
    // wait in the queue; peak RSS is read after the queue has drained.
    const one = [senders[0] as string];
    const cpu0 = cpuMs(pid);
    const before = h.graph.delivered.length;
    await burst(port, one, 2000, 20);
    // The split: what the burst cost until its last 250 (with the deliveries made meanwhile), and
    // what each delivery after it cost.
    const cpuAccepted = cpuMs(pid);
    const deliveredAccepted = h.graph.delivered.length - before;
    await until(() => h.graph.delivered.length - before >= 2000, 180_000, '2,000 deliveries');
    const cpuDone = cpuMs(pid);
    const cpu = cpuDone - cpu0;
    const deliveryMs = (cpuDone - cpuAccepted) / (2000 - deliveredAccepted);
    const got = h.graph.delivered.slice(before);
    const peak = memOf(pid, 'VmHWM');
    // Rate over the steady middle: from the 100th to the last delivery (start-up excluded).
    const rate1 = (got.length - 100) / (((got.at(-1)?.at ?? 0) - (got[99]?.at ?? 0)) / 1000);
    figures.push(
      {
        name: 'load: peak RSS, 2,000 x 10 KB queued behind a 100 ms 4-concurrent Graph',
        value: peak / MB,
        unit: 'MB',
        target: '<= 100 MB',
        pass: peak <= 100 * MB,
      },
      {
        name: 'load: CPU per delivered 10 KB message (whole path)',
        value: cpu / 2000,
        unit: 'ms',
        target: '<= 2 ms',
        pass: cpu / 2000 <= 2,
        note: `until the last 250: ${((cpuAccepted - cpu0) / 2000).toFixed(2)} ms per message (${deliveredAccepted} delivered meanwhile); each delivery after it: ${deliveryMs.toFixed(2)} ms; ${spoolFileSystem(dir)}`,
      },
      {
        name: 'load: delivered rate, one mailbox (ceiling 40 msg/s)',
        value: rate1,
        unit: 'msg/s',
        target: '>= 38 msg/s',
        pass: rate1 >= 38,
      },
    );

    if (process.env.BENCH_LOAD_QUICK) return figures;
    // Ten mailboxes: ceiling 400 msg/s.
    const before10 = h.graph.delivered.length;
    await burst(port, senders, 4000, 40);
    await until(() => h.graph.delivered.length - before10 >= 4000, 180_000, '4,000 deliveries');
    const got10 = h.graph.delivered.slice(before10);
    const rate10 = (got10.length - 400) / (((got10.at(-1)?.at ?? 0) - (got10[399]?.at ?? 0)) / 1000);
    figures.push({
      name: 'load: delivered rate, ten mailboxes (ceiling 400 msg/s)',
      value: rate10,
      unit: 'msg/s',
      target: '>= 360 msg/s',
      pass: rate10 >= 360,
    });

    figures.push(...(await steadyFigures(port, senders)));
    figures.push(...(await floorFigures(h, cpu / 2000)));
    figures.push({
      name: 'load: requests over the concurrency limit at the simulator',
      value: h.graph.stats.overConcurrency,
      unit: 'requests',
      target: '0',
      pass: h.graph.stats.overConcurrency === 0,
    });
    return figures;
  } finally {
    await stop(proc);
    await h.close();
  }
}

if (import.meta.main) {
  for (const f of await benchLoad()) console.log(JSON.stringify(f));
}
