// First boot of the VM appliance: reads the appliance bundle (relaykit-bundle.json, produced by
// infra/) from a NoCloud-style volume labelled `cidata`, writes its files into /etc/relaykit (0600,
// owned by the service user) and records which bundle is installed. Runs as root before
// relaykit.service at every boot, but only rewrites /etc/relaykit when the seed carries a bundle
// different from the installed one. It may touch: the cidata volume (read-only mount under /run),
// /etc/relaykit, and /run/relaykit (console facts). It never logs file contents (they hold keys).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const BUNDLE_FILE = 'relaykit-bundle.json';
export const BUNDLE_KIND = 'relaykit-appliance-bundle';
/** Largest bundle accepted: config and a few PEM files are kilobytes; anything near this is wrong. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export interface BundleFile {
  /** Path relative to the config directory, e.g. "config.yaml" or "tls/relay.key". */
  readonly path: string;
  readonly content: string;
}

export interface Bundle {
  readonly site: string;
  readonly tenant: string;
  readonly files: readonly BundleFile[];
  /** sha256 of the bundle text: what the appliance records as installed. */
  readonly digest: string;
}

export class BundleError extends Error {
  override name = 'BundleError';
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A bundle file name must stay inside /etc/relaykit: relative, no "..", no hidden or odd names. */
export function checkFilePath(path: string): string {
  const segments = path.split('/');
  if (path.startsWith('/') || segments.length > 4 || !segments.every((s) => SAFE_SEGMENT.test(s))) {
    throw new BundleError(
      `bundle file name "${path}" is not allowed (relative path of up to 4 segments of [A-Za-z0-9._-], no "..")`,
    );
  }
  const normal = posix.normalize(path);
  if (normal !== path || normal.startsWith('..')) {
    throw new BundleError(`bundle file name "${path}" is not a normalised relative path`);
  }
  return path;
}

/** Parses and validates the bundle document; every problem names the field. */
export function parseBundle(text: string): Bundle {
  if (Buffer.byteLength(text) > MAX_BUNDLE_BYTES) {
    throw new BundleError(`${BUNDLE_FILE} is larger than ${MAX_BUNDLE_BYTES} bytes`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${BUNDLE_FILE} is not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new BundleError(`${BUNDLE_FILE} must be a JSON object`);
  }
  const d = doc as Record<string, unknown>;
  if (d.kind !== BUNDLE_KIND) {
    throw new BundleError(`${BUNDLE_FILE}: kind must be "${BUNDLE_KIND}", got ${JSON.stringify(d.kind)}`);
  }
  if (d.version !== 1) {
    throw new BundleError(
      `${BUNDLE_FILE}: version ${JSON.stringify(d.version)} is not supported (expected 1)`,
    );
  }
  for (const key of ['site', 'tenant'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') {
      throw new BundleError(`${BUNDLE_FILE}: ${key} must be a non-empty string`);
    }
  }
  if (typeof d.files !== 'object' || d.files === null || Array.isArray(d.files)) {
    throw new BundleError(`${BUNDLE_FILE}: files must be an object of file name → text`);
  }
  const files: BundleFile[] = [];
  for (const [path, content] of Object.entries(d.files as Record<string, unknown>)) {
    checkFilePath(path);
    if (typeof content !== 'string') {
      throw new BundleError(`${BUNDLE_FILE}: files["${path}"] must be a string`);
    }
    files.push({ path, content });
  }
  if (!files.some((f) => f.path === 'config.yaml')) {
    throw new BundleError(`${BUNDLE_FILE}: files must contain "config.yaml"`);
  }
  const digest = createHash('sha256').update(text).digest('hex');
  return { site: d.site as string, tenant: d.tenant as string, files, digest };
}

function writeDurably(path: string, content: string, mode: number, uid: number, gid: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  chownSync(tmp, uid, gid);
  renameSync(tmp, path);
}

export interface InstallTarget {
  /** Config directory, /etc/relaykit on the appliance. */
  readonly dir: string;
  /** Owner of the secret files: the relaykit service user. */
  readonly uid: number;
  readonly gid: number;
  /** Where relative paths in the config (var/spool, var/outbox) should land: the state directory. */
  readonly stateDir: string;
}

/**
 * Writes every bundle file (0600, service user) and the installed-bundle marker. The config
 * directory is root-owned and group-readable by the service, so the relay can read but not change
 * its own config. `var` inside it points at the state directory: the schema resolves relative paths
 * against the config directory, and /etc is read-only for the service.
 */
export function installBundle(bundle: Bundle, target: InstallTarget): void {
  mkdirSync(target.dir, { recursive: true, mode: 0o750 });
  chownSync(target.dir, 0, target.gid);
  chmodSync(target.dir, 0o750);
  for (const file of bundle.files) {
    const dest = join(target.dir, file.path);
    const parent = dirname(dest);
    if (parent !== target.dir) {
      mkdirSync(parent, { recursive: true, mode: 0o750 });
      chownSync(parent, 0, target.gid);
    }
    writeDurably(dest, file.content, 0o600, target.uid, target.gid);
  }
  const varLink = join(target.dir, 'var');
  if (!existsSync(varLink) && !isSymlink(varLink)) symlinkSync(target.stateDir, varLink);
  writeDurably(
    join(target.dir, '.bundle'),
    `${JSON.stringify({ site: bundle.site, tenant: bundle.tenant, digest: bundle.digest, files: bundle.files.map((f) => f.path) })}\n`,
    0o644,
    0,
    0,
  );
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Digest of the bundle installed earlier, or undefined. */
export function installedDigest(dir: string): string | undefined {
  try {
    const marker = JSON.parse(readFileSync(join(dir, '.bundle'), 'utf8')) as { digest?: unknown };
    return typeof marker.digest === 'string' ? marker.digest : undefined;
  } catch {
    return undefined;
  }
}

export interface ConsoleFacts {
  readonly smtpPorts: readonly number[];
  readonly httpAddress: string;
  readonly httpPort: number;
}

/** What the console banner needs from the config: listener ports and where /healthz answers. */
export function consoleFacts(configYaml: string): ConsoleFacts {
  const cfg = (parseYaml(configYaml) ?? {}) as {
    listeners?: { port?: unknown }[];
    http?: { address?: unknown; port?: unknown; enabled?: unknown };
  };
  const smtpPorts = (cfg.listeners ?? [])
    .map((l) => l.port)
    .filter((p): p is number => typeof p === 'number');
  let httpAddress = typeof cfg.http?.address === 'string' ? cfg.http.address : '127.0.0.1';
  if (httpAddress === '0.0.0.0') httpAddress = '127.0.0.1';
  if (httpAddress === '::') httpAddress = '::1';
  const httpPort = typeof cfg.http?.port === 'number' ? cfg.http.port : 8025;
  return { smtpPorts, httpAddress, httpPort };
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function findSeedDevice(waitMs: number): string | undefined {
  const until = Date.now() + waitMs;
  for (;;) {
    for (const label of ['cidata', 'CIDATA']) {
      try {
        const dev = run('blkid', ['-o', 'device', '-t', `LABEL=${label}`]).split('\n')[0];
        if (dev) return dev;
      } catch {
        // blkid exits 2 when nothing carries the label
      }
    }
    if (Date.now() >= until) return undefined;
    execFileSync('sleep', ['1']);
  }
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

function userIds(name: string): { uid: number; gid: number } {
  return { uid: Number(run('id', ['-u', name])), gid: Number(run('id', ['-g', name])) };
}

function writeConsoleFacts(dir: string): void {
  try {
    const f = consoleFacts(readFileSync(join(dir, 'config.yaml'), 'utf8'));
    mkdirSync('/run/relaykit', { recursive: true, mode: 0o755 });
    writeFileSync(
      '/run/relaykit/console.env',
      `SMTP_PORTS="${f.smtpPorts.join(' ')}"\nHTTP_ADDRESS=${f.httpAddress}\nHTTP_PORT=${f.httpPort}\n`,
      { mode: 0o644 },
    );
  } catch (err) {
    console.error(
      `relaykit-firstboot: cannot read listener ports from config.yaml: ${(err as Error).message}`,
    );
  }
}

function main(): number {
  const dir = '/etc/relaykit';
  const provisioned = existsSync(join(dir, 'config.yaml'));
  // On a fresh appliance give udev time to announce the seed; later boots only glance for one.
  const device = findSeedDevice(provisioned ? 2000 : 20_000);
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
    installBundle(bundle, { dir, stateDir: '/var/lib/relaykit', ...userIds('relaykit') });
    console.log(
      `relaykit-firstboot: installed bundle for site "${bundle.site}" (tenant ${bundle.tenant}): ${bundle.files
        .map((f) => f.path)
        .join(', ')}`,
    );
  }
  writeConsoleFacts(dir);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = main();
  } catch (err) {
    console.error(`relaykit-firstboot: ${err instanceof BundleError ? err.message : (err as Error).stack}`);
    process.exitCode = 1;
  }
}
