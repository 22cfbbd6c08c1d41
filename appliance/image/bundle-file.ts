// The appliance bundle contract (relaykit-bundle.json, produced by infra/appliance-bundle.ts): parse
// and validate it, and install its files into a config directory. Shared by the VM's first boot
// (firstboot.ts, as root into /etc/relaykit) and the container entry (entry.ts, as the service user
// onto the data volume). Touches only the target directory it is given; never logs file contents.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, posix } from 'node:path';

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
  /**
   * Owner of the directory and the marker: root (the default) on the VM, so the relay can read but
   * not change its config; the service user itself in a container, which runs without root.
   */
  readonly ownerUid?: number;
}

/**
 * Writes every bundle file (0600, service user) and the installed-bundle marker. The config
 * directory is root-owned and group-readable by the service, so the relay can read but not change
 * its own config. `var` inside it points at the state directory: the schema resolves relative paths
 * against the config directory, and /etc is read-only for the service.
 */
export function installBundle(bundle: Bundle, target: InstallTarget): void {
  const owner = target.ownerUid ?? 0;
  mkdirSync(target.dir, { recursive: true, mode: 0o750 });
  chownSync(target.dir, owner, target.gid);
  chmodSync(target.dir, 0o750);
  for (const file of bundle.files) {
    const dest = join(target.dir, file.path);
    const parent = dirname(dest);
    if (parent !== target.dir) {
      mkdirSync(parent, { recursive: true, mode: 0o750 });
      chownSync(parent, owner, target.gid);
    }
    writeDurably(dest, file.content, 0o600, target.uid, target.gid);
  }
  const varLink = join(target.dir, 'var');
  if (!existsSync(varLink) && !isSymlink(varLink)) symlinkSync(target.stateDir, varLink);
  writeDurably(
    join(target.dir, '.bundle'),
    `${JSON.stringify({ site: bundle.site, tenant: bundle.tenant, digest: bundle.digest, files: bundle.files.map((f) => f.path) })}\n`,
    0o644,
    owner,
    owner === 0 ? 0 : target.gid,
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
