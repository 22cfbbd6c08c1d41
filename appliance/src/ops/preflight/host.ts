// Preflight, this machine: directories the appliance writes (spool with its trace/ and dead/, capture
// folders) are writable or can be created, the spool's file system has more free space than
// spool.minFreeSpace, and every port the config listens on is free. A write probe is a real file
// (access() says yes to root even on a read-only mount).
import { randomBytes } from 'node:crypto';
import { rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { directoryReferences } from '../../config/references.ts';
import type { Config } from '../../config/schema.ts';
import type { PreflightIssue } from './issue.ts';

/** The directory itself if it exists, else its nearest existing ancestor. */
async function existing(path: string): Promise<{ path: string; isDir: boolean; exists: boolean }> {
  let p = path;
  for (;;) {
    const s = await stat(p).catch(() => undefined);
    if (s) return { path: p, isDir: s.isDirectory(), exists: p === path };
    const up = dirname(p);
    if (up === p) return { path: p, isDir: true, exists: false };
    p = up;
  }
}

async function probeWrite(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.relaykit-check-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probe, 'probe');
    await unlink(probe);
    return undefined;
  } catch (err) {
    await rm(probe, { force: true }).catch(() => {});
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

const MB = 1024 * 1024;

export async function directoryIssues(config: Config): Promise<PreflightIssue[]> {
  const issues: PreflightIssue[] = [];
  for (const ref of directoryReferences(config)) {
    const at = await existing(ref.path);
    if (!at.isDir) {
      issues.push({ key: ref.key, message: `${at.path} is a file, not a directory` });
      continue;
    }
    const code = await probeWrite(at.path);
    if (code !== undefined) {
      issues.push({
        key: ref.key,
        message: at.exists
          ? `${ref.path} is not writable (${code})`
          : `${ref.path} does not exist and cannot be created: ${at.path} is not writable (${code})`,
      });
    }
    if (ref.key === 'spool.directory') {
      // The spool's own subfolders (trace/, dead/, queue/) must be writable too when they exist.
      for (const sub of ['queue', 'dead', 'trace', 'incoming']) {
        const s = await stat(join(ref.path, sub)).catch(() => undefined);
        if (!s) continue;
        const c = s.isDirectory() ? await probeWrite(join(ref.path, sub)) : 'ENOTDIR';
        if (c !== undefined)
          issues.push({ key: ref.key, message: `${join(ref.path, sub)} is not writable (${c})` });
      }
      const fs = await statfs(at.path).catch(() => undefined);
      const free = fs ? fs.bavail * fs.bsize : undefined;
      if (free !== undefined && free < config.spool.minFreeSpace) {
        issues.push({
          key: ref.key,
          message: `only ${(free / MB).toFixed(1)} MB free on the file system of ${ref.path}, below spool.minFreeSpace (${(config.spool.minFreeSpace / MB).toFixed(1)} MB)`,
        });
      }
    }
  }
  return issues;
}

function tryBind(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Every address:port the config listens on (port 0 means "any free port" and is skipped). */
export function listenPorts(config: Config): { key: string; address: string; port: number }[] {
  const out = config.listeners.map((l, i) => ({ key: `listeners[${i}]`, address: l.address, port: l.port }));
  if (config.http.enabled) out.push({ key: 'http', address: config.http.address, port: config.http.port });
  const admin = config.admin.listener;
  if (admin) out.push({ key: 'admin.listener', address: admin.address, port: admin.port });
  return out.filter((p) => p.port !== 0);
}

export async function portIssues(config: Config): Promise<PreflightIssue[]> {
  const issues: PreflightIssue[] = [];
  const seen = new Map<string, string>();
  for (const p of listenPorts(config)) {
    const id = `${p.address}:${p.port}`;
    const twice = seen.get(id);
    if (twice !== undefined) {
      issues.push({ key: `${p.key}.port`, message: `${id} is also used by ${twice}` });
      continue;
    }
    seen.set(id, p.key);
    const code = await tryBind(p.address, p.port);
    if (code === undefined) continue;
    const message =
      code === 'EADDRINUSE'
        ? `${id} is already in use by another process`
        : code === 'EADDRNOTAVAIL'
          ? `${p.address} is not an address of this machine`
          : code === 'EACCES'
            ? `port ${p.port} needs root or CAP_NET_BIND_SERVICE`
            : `cannot listen on ${id} (${code})`;
    issues.push({ key: code === 'EADDRNOTAVAIL' ? `${p.key}.address` : `${p.key}.port`, message });
  }
  return issues;
}
