// Intake benchmark (issue 2): smtp-source drives 20 sessions of 10 KB and 1 MB messages at the
// appliance (capture route) and, in the same run, at a bare smtp-server that fsyncs each message
// before 250. Prints msgs/s for both and the ratio (target >= 0.8 at both sizes).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
}

function startProcess(
  args: string[],
  ready: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

function stop(proc: ChildProcess): Promise<void> {
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
  const cases = [
    { size: '10 KB', bytes: 10 * 1024, messages: 4000 },
    { size: '1 MB', bytes: 1024 * 1024, messages: 300 },
  ].filter((c) => !process.env.BENCH_SIZE || c.size === process.env.BENCH_SIZE);
  const results: IntakeResult[] = [];
  for (const c of cases) {
    const rk: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate the order so neither side always runs on a warmer disk cache.
      for (const which of round % 2 === 0 ? ['bare', 'relaykit'] : ['relaykit', 'bare']) {
        const dir = await mkdtemp(join(tmpdir(), 'relaykit-bench-'));
        try {
          if (which === 'bare') {
            const { proc, match } = await startProcess(
              [join(import.meta.dirname, 'bare-fsync-server.ts'), dir],
              /listening (\d+)\n/,
            );
            bare.push(await drive(Number(match[1]), 20, c.messages, c.bytes));
            await stop(proc);
          } else {
            const cfg = join(dir, 'config.yaml');
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
                    directory: join(dir, 'outbox'),
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
              [join(ROOT, 'appliance/src/main.ts'), 'run', '--config', cfg],
              /"listeners":\[\{"name":"bench","address":"127\.0\.0\.1","port":(\d+)\}\]/,
            );
            rk.push(await drive(Number(match[1]), 20, c.messages, c.bytes));
            // Let the capture route finish so the next run starts on a quiet disk.
            for (let i = 0; i < 600 && (await countFiles(join(dir, 'outbox'), '.eml')) < c.messages; i++) {
              await new Promise((r) => setTimeout(r, 100));
            }
            await stop(proc);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const r = median(rk);
    const b = median(bare);
    results.push({ size: c.size, messages: c.messages, relaykit: r, bare: b, ratio: r / b });
  }
  return results;
}
