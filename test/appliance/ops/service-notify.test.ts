import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../appliance/src/log.ts';
import {
  type CommandRunner,
  readyStatus,
  type Scheduler,
  ServiceNotifier,
  watchdogIntervalMs,
} from '../../../appliance/src/ops/service-notify.ts';
import { requireTool } from '../../helpers/tools.ts';

type Call = { file: string; args: readonly string[]; socket: string | undefined };

function recordingRunner(): { calls: Call[]; run: CommandRunner } {
  const calls: Call[] = [];
  return {
    calls,
    run: async (file, args, env) => {
      calls.push({ file, args, socket: env.NOTIFY_SOCKET });
    },
  };
}

/** A scheduler the test ticks by hand. */
function manualScheduler(): Scheduler & { tick(): void; intervals: number[]; cancelled: number } {
  const fns: (() => void)[] = [];
  const s = {
    intervals: [] as number[],
    cancelled: 0,
    every(ms: number, fn: () => void) {
      s.intervals.push(ms);
      fns.push(fn);
      return {
        cancel: () => {
          s.cancelled++;
          fns.splice(fns.indexOf(fn), 1);
        },
      };
    },
    tick() {
      for (const fn of [...fns]) fn();
    },
  };
  return s;
}

describe('service notifier without systemd (container, npm start)', () => {
  it('sends nothing and starts no process or timer when NOTIFY_SOCKET is unset', async () => {
    const { calls, run } = recordingRunner();
    const scheduler = manualScheduler();
    const n = new ServiceNotifier({
      env: { WATCHDOG_USEC: '30000000' },
      pid: 4242,
      logger: silentLogger(),
      run,
      scheduler,
    });
    expect(n.enabled).toBe(false);
    expect(await n.ready('SMTP on 0.0.0.0:25')).toBe(false);
    expect(n.startWatchdog(() => true)).toBe(false);
    expect(await n.stopping('draining')).toBe(false);
    expect(calls).toEqual([]);
    expect(scheduler.intervals).toEqual([]);
  });

  it('an empty NOTIFY_SOCKET counts as unset', () => {
    const n = new ServiceNotifier({ env: { NOTIFY_SOCKET: '' }, pid: 1, logger: silentLogger() });
    expect(n.enabled).toBe(false);
  });
});

describe('service notifier under systemd: systemd-notify command lines', () => {
  const env = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000' };

  it('READY=1 with the status line, MAINPID via --pid, the socket passed to the child', async () => {
    const { calls, run } = recordingRunner();
    const n = new ServiceNotifier({ env, pid: 4242, logger: silentLogger(), run });
    expect(await n.ready('SMTP on 0.0.0.0:25')).toBe(true);
    expect(calls).toEqual([
      {
        file: 'systemd-notify',
        args: ['--pid=4242', 'READY=1', 'STATUS=SMTP on 0.0.0.0:25'],
        socket: '/run/systemd/notify',
      },
    ]);
  });

  it('a status text with line breaks stays one line (each line of the datagram is one variable)', async () => {
    const { calls, run } = recordingRunner();
    const n = new ServiceNotifier({ env, pid: 7, logger: silentLogger(), run });
    await n.stopping('draining\nWATCHDOG=1');
    expect(calls[0]?.args).toEqual(['--pid=7', 'STOPPING=1', 'STATUS=draining WATCHDOG=1']);
  });

  it('WATCHDOG=1 every third of WATCHDOG_USEC while alive; none while not alive; none after stopping', async () => {
    const { calls, run } = recordingRunner();
    const scheduler = manualScheduler();
    let alive = true;
    const n = new ServiceNotifier({ env, pid: 9, logger: silentLogger(), run, scheduler });
    expect(n.startWatchdog(() => alive)).toBe(true);
    expect(scheduler.intervals).toEqual([20_000]);
    scheduler.tick();
    await Promise.resolve();
    expect(calls.map((c) => c.args)).toEqual([['--pid=9', 'WATCHDOG=1']]);
    alive = false;
    scheduler.tick();
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    await n.stopping('draining');
    expect(scheduler.cancelled).toBe(1);
    alive = true;
    scheduler.tick();
    expect(calls.map((c) => c.args.at(1))).toEqual(['WATCHDOG=1', 'STOPPING=1']);
  });

  it('a slow systemd-notify does not pile up children: one ping at a time', async () => {
    const calls: string[][] = [];
    let finish: () => void = () => {};
    const run: CommandRunner = (_f, args) => {
      calls.push([...args]);
      return new Promise<void>((r) => {
        finish = r;
      });
    };
    const scheduler = manualScheduler();
    const n = new ServiceNotifier({ env, pid: 9, logger: silentLogger(), run, scheduler });
    n.startWatchdog(() => true);
    scheduler.tick();
    scheduler.tick();
    expect(calls).toHaveLength(1);
    finish();
    await new Promise((r) => setImmediate(r));
    scheduler.tick();
    expect(calls).toHaveLength(2);
  });

  it('a failing systemd-notify is logged and resolves false, never throws', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const n = new ServiceNotifier({
      env,
      pid: 9,
      logger,
      run: async () => {
        throw new Error('spawn systemd-notify ENOENT');
      },
    });
    expect(await n.ready('x')).toBe(false);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      msg: 'service manager notification failed',
      reason: 'spawn systemd-notify ENOENT',
    });
  });
});

describe('watchdog interval (sd_watchdog_enabled(3))', () => {
  it('a third of WATCHDOG_USEC, in milliseconds', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 1)).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42)).toBe(20_000);
  });
  it('none when unset, not a positive number, or meant for another process', () => {
    expect(watchdogIntervalMs({}, 1)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 1)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 1)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '41' }, 42)).toBeUndefined();
  });
});

describe('status line', () => {
  it('names the SMTP listeners and, with the LAN admin listener, its URL and fingerprint', () => {
    const fp = Array.from({ length: 32 }, () => 'AB').join(':');
    expect(readyStatus([{ address: '0.0.0.0', port: 25 }])).toBe('SMTP on 0.0.0.0:25');
    expect(
      readyStatus(
        [
          { address: '0.0.0.0', port: 25 },
          { address: '::', port: 587 },
        ],
        { url: 'https://192.0.2.10:8443/', fingerprint: fp },
      ),
    ).toBe(`SMTP on 0.0.0.0:25, [::]:587; admin page https://192.0.2.10:8443/ certificate SHA-256 ${fp}`);
  });
});

// The real thing: systemd's systemd-notify against a unix datagram socket bound by the test (perl,
// since Node has no unix datagram sockets), read back datagram by datagram.
describe('service notifier with the real systemd-notify', () => {
  let receiver: ChildProcess | undefined;
  let dir: string | undefined;
  afterEach(() => {
    receiver?.kill();
    receiver = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('delivers READY/STATUS/MAINPID and WATCHDOG datagrams and waits for the barrier', async (ctx) => {
    requireTool(ctx, 'systemd-notify');
    const perl = requireTool(ctx, 'perl');
    dir = mkdtempSync(join(tmpdir(), 'rk-notify-'));
    const socket = join(dir, 'notify');
    // recv() without a control buffer: the kernel closes the barrier's pipe fd, as systemd does
    // after reading it, so systemd-notify's barrier completes.
    const script = `use Socket;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!";
$| = 1; print "listening\\n";
while (defined(recv($s, my $buf, 65536, 0))) { $buf =~ s/\\n/|/g; print "$buf\\n"; }`;
    const proc = spawn(perl, ['-e', script, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    receiver = proc;
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    const next = async () => (await lines.next()).value as string;
    expect(await next()).toBe('listening');

    const scheduler = manualScheduler();
    const n = new ServiceNotifier({
      env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '3000000' },
      pid: process.pid,
      logger: silentLogger(),
      scheduler,
    });
    // Resolves true only after the barrier: the receiver has read the message.
    expect(await n.ready('SMTP on 0.0.0.0:25')).toBe(true);
    expect((await next()).split('|').sort()).toEqual(
      [`MAINPID=${process.pid}`, 'READY=1', 'STATUS=SMTP on 0.0.0.0:25'].sort(),
    );
    expect(await next()).toBe('BARRIER=1');

    expect(n.startWatchdog(() => true)).toBe(true);
    expect(scheduler.intervals).toEqual([1000]);
    scheduler.tick();
    expect((await next()).split('|').sort()).toEqual([`MAINPID=${process.pid}`, 'WATCHDOG=1']);
    expect(await next()).toBe('BARRIER=1');
    n.stopWatchdog();
  });
});
