// ops room: notifications to the systemd service manager of a `Type=notify` unit (sd_notify(3)):
// READY=1 once intake listens, STATUS= one line for `systemctl status` and the VM console (the admin
// page's URL and certificate fingerprint), WATCHDOG=1 while the relay is alive, STOPPING=1 when it
// drains. Outside systemd (the container, `npm start`, tests) $NOTIFY_SOCKET is unset: nothing is
// sent and no process is started.
//
// Why a `systemd-notify` child rather than writing the datagram ourselves: the protocol is one
// datagram on the AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET, and Node has no unix datagram
// sockets (dgram speaks udp4/udp6 only; net speaks streams, which that socket refuses). The npm
// packages that can (sd-notify, unix-dgram) are native addons built with a compiler (and libsystemd
// headers) at install: a toolchain in the image build and a binary per Node ABI to keep. systemd-notify
// ships with systemd, so it exists wherever $NOTIFY_SOCKET does. It sends under its own PID (an
// unprivileged process cannot claim the relay's), hence NotifyAccess=all in relaykit.service; and it
// waits until systemd has read the message before it exits (sd_notify_barrier, systemd ≥ 246; no
// --no-block), without which a message from a child that already exited can be dropped because systemd
// attributes it to a unit by the sender's cgroup (systemd-notify(1)). --pid=<relay> adds MAINPID=,
// which keeps systemd's main PID on the relay even if a wrapper ever starts it.
import { execFile } from 'node:child_process';
import type { Logger } from '../log.ts';

/** The variables systemd gives a notify service (systemd.exec(5), sd_watchdog_enabled(3)). */
export interface NotifyEnv {
  readonly NOTIFY_SOCKET?: string | undefined;
  readonly WATCHDOG_USEC?: string | undefined;
  readonly WATCHDOG_PID?: string | undefined;
}

/** Runs one command to completion (rejects on a non-zero exit); injected by tests. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
) => Promise<void>;

export interface Scheduler {
  every(ms: number, fn: () => void): { cancel(): void };
}

export interface ServiceNotifierOptions {
  readonly env: NotifyEnv;
  readonly pid: number;
  readonly logger: Logger;
  readonly run?: CommandRunner;
  readonly scheduler?: Scheduler;
}

export const SYSTEMD_NOTIFY = 'systemd-notify';

/** systemd-notify's command line for one message: `--pid=PID VAR=VALUE…` (systemd-notify(1)). */
export function notifyArgs(pid: number, fields: Readonly<Record<string, string>>): string[] {
  return [`--pid=${pid}`, ...Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`)];
}

/**
 * How often to send WATCHDOG=1, or undefined when systemd expects none: WATCHDOG_USEC unset or not a
 * positive number, or WATCHDOG_PID naming another process (sd_watchdog_enabled(3)). A third of the
 * interval: sd_watchdog_enabled(3) asks for half; a third leaves room for a slow spawn on a loaded host.
 */
export function watchdogIntervalMs(env: NotifyEnv, pid: number): number | undefined {
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid)
    return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  return Math.max(1, Math.floor(usec / 3000));
}

/**
 * The STATUS= line once intake listens: where SMTP listens and, with the LAN admin listener, its URL and
 * certificate fingerprint. The VM console (console-status) shows the admin part to the technician,
 * who compares it with what the browser shows for the page's certificate.
 */
export function readyStatus(
  listeners: readonly { readonly address: string; readonly port: number }[],
  admin?: { readonly url: string; readonly fingerprint: string },
): string {
  const smtp = listeners.map((l) => `${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`);
  const parts = [`SMTP on ${smtp.join(', ') || 'no listener'}`];
  if (admin) parts.push(`admin page ${admin.url} certificate SHA-256 ${admin.fingerprint}`);
  return parts.join('; ');
}

const runCommand: CommandRunner = (file, args, env) =>
  new Promise((resolve, reject) => {
    // The barrier waits at most 5 s for systemd; the timeout is the backstop for a hung child.
    execFile(file, [...args], { env, timeout: 15_000 }, (err) => (err ? reject(err) : resolve()));
  });

const intervalScheduler: Scheduler = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

export class ServiceNotifier {
  readonly enabled: boolean;
  private readonly opts: ServiceNotifierOptions;
  private readonly run: CommandRunner;
  private watchdog: { cancel(): void } | undefined;
  private pinging = false;

  constructor(opts: ServiceNotifierOptions) {
    this.opts = opts;
    this.enabled = (opts.env.NOTIFY_SOCKET ?? '') !== '';
    this.run = opts.run ?? runCommand;
  }

  /** Sends one message; a failure is logged, never thrown (the relay works without its manager). */
  async send(fields: Readonly<Record<string, string>>): Promise<boolean> {
    if (!this.enabled) return false;
    try {
      await this.run(SYSTEMD_NOTIFY, notifyArgs(this.opts.pid, fields), {
        ...process.env,
        NOTIFY_SOCKET: this.opts.env.NOTIFY_SOCKET,
      });
      return true;
    } catch (err) {
      this.opts.logger.warn(
        { reason: (err as Error).message, fields: Object.keys(fields) },
        'service manager notification failed',
      );
      return false;
    }
  }

  /** Start-up finished: intake listens. `status` is the line `systemctl status` shows. */
  ready(status: string): Promise<boolean> {
    return this.send({ READY: '1', STATUS: status });
  }

  /** Draining on SIGTERM: systemd waits for the exit instead of calling the unit hung. */
  stopping(status: string): Promise<boolean> {
    this.stopWatchdog();
    return this.send({ STOPPING: '1', STATUS: status });
  }

  /**
   * Sends WATCHDOG=1 every third of WATCHDOG_USEC while `alive()` holds. The timer itself running is
   * the proof that the event loop turns; a blocked loop or `alive()` false means no ping, and systemd
   * restarts the relay once WatchdogSec passes. Returns false when systemd asked for no watchdog.
   */
  startWatchdog(alive: () => boolean): boolean {
    const ms = this.enabled ? watchdogIntervalMs(this.opts.env, this.opts.pid) : undefined;
    if (ms === undefined) return false;
    this.stopWatchdog();
    const scheduler = this.opts.scheduler ?? intervalScheduler;
    this.watchdog = scheduler.every(ms, () => {
      // One ping at a time: a spawn slower than the interval must not pile up children.
      if (this.pinging || !alive()) return;
      this.pinging = true;
      void this.send({ WATCHDOG: '1' }).finally(() => {
        this.pinging = false;
      });
    });
    return true;
  }

  stopWatchdog(): void {
    this.watchdog?.cancel();
    this.watchdog = undefined;
  }
}
