// First boot of the VM appliance: reads the appliance bundle (relaykit-bundle.json, produced by
// infra/) from a NoCloud-style volume labelled `cidata`, writes its files into /etc/relaykit (0600,
// owned by the service user) and records which bundle is installed. Runs as root before
// relaykit.service at every boot, but only rewrites /etc/relaykit when the seed carries a bundle
// different from the installed one. It starts early, not ordered after the data partition's mount
// (/etc/relaykit lives there), and waits for that mount itself: Node's start and loading this
// bundle, seconds under software emulation, overlap the wait for the device, its fsck and mount. It may touch: the cidata volume (read-only mount under /run),
// /etc/relaykit, and /run/relaykit (console facts). It never logs file contents (they hold keys).
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUNDLE_FILE, installBundle, installedDigest, parseBundle } from './bundle-file.ts';

export interface ConsoleFacts {
  readonly smtpPorts: readonly number[];
  readonly httpAddress: string;
  readonly httpPort: number;
  /** The LAN admin listener, when configured: where the console reads its certificate from. */
  readonly admin?: { readonly address: string; readonly port: number };
}

/** A wildcard listen address as the local address to connect to. */
function localAddress(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

/**
 * What the console banner needs from the config: listener ports, where /healthz answers, and where
 * the admin listener serves its certificate (schema defaults: status 127.0.0.1:8025, admin port 8443).
 */
export function consoleFacts(configYaml: string): ConsoleFacts {
  const cfg = (parseYaml(configYaml) ?? {}) as {
    listeners?: { port?: unknown }[];
    http?: { address?: unknown; port?: unknown; enabled?: unknown };
    admin?: { listener?: { address?: unknown; port?: unknown } };
  };
  const smtpPorts = (cfg.listeners ?? [])
    .map((l) => l.port)
    .filter((p): p is number => typeof p === 'number');
  const httpAddress = localAddress(typeof cfg.http?.address === 'string' ? cfg.http.address : '127.0.0.1');
  const httpPort = typeof cfg.http?.port === 'number' ? cfg.http.port : 8025;
  const l = cfg.admin?.listener;
  if (l === undefined || l === null || typeof l.address !== 'string')
    return { smtpPorts, httpAddress, httpPort };
  const admin = { address: localAddress(l.address), port: typeof l.port === 'number' ? l.port : 8443 };
  return { smtpPorts, httpAddress, httpPort, admin };
}

/** /run/relaykit/console.env, sourced by console-status. */
export function consoleEnv(f: ConsoleFacts): string {
  const admin = f.admin ? `ADMIN_ADDRESS=${f.admin.address}\nADMIN_PORT=${f.admin.port}\n` : '';
  return `SMTP_PORTS="${f.smtpPorts.join(' ')}"\nHTTP_ADDRESS=${f.httpAddress}\nHTTP_PORT=${f.httpPort}\n${admin}`;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const SEED_LABELS = ['cidata', 'CIDATA'];

/** Sleeps without a child process (execFileSync('sleep') forked all of Node each second at boot). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** ISO 9660's primary volume descriptor: sector 16 of 2,048 bytes (ECMA-119 8.4). */
const PVD_OFFSET = 16 * 2048;

/**
 * The volume identifier of an ISO 9660 primary volume descriptor (ECMA-119 8.4: type 1, standard
 * identifier "CD001", volume identifier in bytes 40-71, padded with spaces), or undefined.
 */
export function iso9660VolumeId(sector: Buffer): string | undefined {
  if (sector.length < 72 || sector[0] !== 1 || sector.toString('latin1', 1, 6) !== 'CD001') return undefined;
  return sector.toString('latin1', 40, 72).trimEnd();
}

/**
 * A CD-ROM carrying a cidata ISO, found by reading each drive's volume descriptor (/sys/block/sr*,
 * /dev/sr*): the initramfs loads sr_mod, so the drive exists when systemd starts, seconds before udev's
 * coldplug has run cdrom_id and made the by-label link. An empty drive or a read error is skipped.
 */
export function findSeedOptical(opts: { sysBlock?: string; dev?: string } = {}): string | undefined {
  let drives: string[];
  try {
    drives = readdirSync(opts.sysBlock ?? '/sys/block').filter((n) => /^sr\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const name of drives.sort()) {
    const device = join(opts.dev ?? '/dev', name);
    try {
      const fd = openSync(device, 'r');
      try {
        const sector = Buffer.alloc(2048);
        if (readSync(fd, sector, 0, sector.length, PVD_OFFSET) !== sector.length) continue;
        const id = iso9660VolumeId(sector);
        if (id !== undefined && SEED_LABELS.includes(id)) return device;
      } finally {
        closeSync(fd);
      }
    } catch {
      // no medium (ENOMEDIUM), or not readable: not the seed
    }
  }
  return undefined;
}

/**
 * The seed volume, by the link udev makes for every labelled file system (60-persistent-storage.rules:
 * /dev/disk/by-label/<label>; CD-ROMs once cdrom_id saw a data track). Looking at links costs nothing,
 * where `blkid -t LABEL=` probes every block device, empty CD drives included — seconds each at boot
 * under emulation. A CD-ROM's own volume descriptor is read as well (findSeedOptical), which needs no
 * udev. Only a fresh appliance that found neither asks blkid once at the end.
 */
export function findSeedDevice(
  waitMs: number,
  opts: {
    byLabel?: string;
    blkid?: boolean;
    optical?: () => string | undefined;
    sleep?: (ms: number) => void;
    now?: () => number;
  } = {},
): string | undefined {
  const dir = opts.byLabel ?? '/dev/disk/by-label';
  const optical = opts.optical ?? findSeedOptical;
  const sleep = opts.sleep ?? pause;
  const now = opts.now ?? Date.now;
  const until = now() + waitMs;
  for (;;) {
    for (const label of SEED_LABELS) {
      const link = join(dir, label);
      if (existsSync(link)) return realpathSync(link);
    }
    const drive = optical();
    if (drive !== undefined) return drive;
    if (now() >= until) break;
    sleep(250);
  }
  if (!opts.blkid) return undefined;
  for (const label of SEED_LABELS) {
    try {
      const dev = run('blkid', ['-o', 'device', '-t', `LABEL=${label}`]).split('\n')[0];
      if (dev) return dev;
    } catch {
      // blkid exits 2 when nothing carries the label
    }
  }
  return undefined;
}

function readSeed(device: string): string | undefined {
  mkdirSync('/run/relaykit', { recursive: true, mode: 0o755 });
  const mnt = mkdtempSync('/run/relaykit/cidata-');
  run('mount', ['-o', 'ro,nodev,nosuid,noexec', device, mnt]);
  try {
    const path = join(mnt, BUNDLE_FILE);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } finally {
    run('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

/** Whether `path` is a mount point in a /proc/self/mountinfo text (field 5 is the mount point). */
export function isMountPoint(path: string, mountinfo: string): boolean {
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === path);
}

/**
 * Waits until `path` is mounted, looking every 100 ms; false after waitMs. A mount that fails ends the
 * wait another way: systemd isolates emergency.target (local-fs.target failed), which stops this unit.
 */
export function waitForMount(
  path: string,
  waitMs: number,
  opts: { mountinfo?: () => string; sleep?: (ms: number) => void; now?: () => number } = {},
): boolean {
  const mountinfo = opts.mountinfo ?? (() => readFileSync('/proc/self/mountinfo', 'utf8'));
  const sleep = opts.sleep ?? pause;
  const now = opts.now ?? Date.now;
  const until = now() + waitMs;
  for (;;) {
    if (isMountPoint(path, mountinfo())) return true;
    if (now() >= until) return false;
    sleep(100);
  }
}

/** uid and gid of a user from /etc/passwd (the image creates relaykit there; no `id` child processes). */
export function userIds(
  name: string,
  passwd = readFileSync('/etc/passwd', 'utf8'),
): { uid: number; gid: number } {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`no user ${name} in /etc/passwd`);
}

function writeConsoleFacts(dir: string): void {
  try {
    const f = consoleFacts(readFileSync(join(dir, 'config.yaml'), 'utf8'));
    mkdirSync('/run/relaykit', { recursive: true, mode: 0o755 });
    writeFileSync('/run/relaykit/console.env', consoleEnv(f), { mode: 0o644 });
  } catch (err) {
    console.error(
      `relaykit-firstboot: cannot read listener ports from config.yaml: ${(err as Error).message}`,
    );
  }
}

const STATE_DIR = '/var/lib/relaykit';
/** Written once the bundle is installed (or found installed); relaykit.service waits for it. */
export const FIRSTBOOT_DONE = '/run/relaykit/firstboot.done';

/** Tells relaykit.service (`run --wait-for`) that /etc/relaykit holds this boot's config. */
export function markDone(path = FIRSTBOOT_DONE): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, '', { mode: 0o644 });
}
/** How long to wait for the data partition: an fsck that repairs a large one takes minutes. */
const MOUNT_WAIT_MS = 30 * 60_000;

/** The first-boot step: 0 when the relay may start, 1 when there is nothing safe to run. */
export function firstboot(): number {
  const dir = '/etc/relaykit';
  // Never write the config into the root slot's empty directory under the mount point.
  if (!waitForMount(STATE_DIR, MOUNT_WAIT_MS)) {
    console.error(`relaykit-firstboot: the data partition is not mounted on ${STATE_DIR}; nothing installed`);
    return 1;
  }
  const provisioned = existsSync(join(dir, 'config.yaml'));
  // On a fresh appliance give udev time to announce the seed; later boots only glance for one.
  const device = findSeedDevice(provisioned ? 2000 : 20_000, { blkid: !provisioned });
  if (!device) {
    if (!provisioned) {
      console.error(
        'relaykit-firstboot: no volume labelled "cidata" found; attach one with relaykit-bundle.json and reboot',
      );
      return 1;
    }
    writeConsoleFacts(dir);
    return 0;
  }
  const text = readSeed(device);
  if (text === undefined) {
    console.error(`relaykit-firstboot: ${device} (cidata) has no ${BUNDLE_FILE}`);
    if (provisioned) writeConsoleFacts(dir);
    return provisioned ? 0 : 1;
  }
  const bundle = parseBundle(text);
  if (installedDigest(dir) === bundle.digest) {
    console.log(`relaykit-firstboot: bundle for site "${bundle.site}" already installed`);
  } else {
    installBundle(bundle, { dir, stateDir: STATE_DIR, ...userIds('relaykit') });
    console.log(
      `relaykit-firstboot: installed bundle for site "${bundle.site}" (tenant ${bundle.tenant}): ${bundle.files
        .map((f) => f.path)
        .join(', ')}`,
    );
  }
  writeConsoleFacts(dir);
  return 0;
}
