// First boot of the VM appliance: reads the appliance bundle (relaykit-bundle.json, produced by
// infra/) from a NoCloud-style volume labelled `cidata`, writes its files into /etc/relaykit (0600,
// owned by the service user) and records which bundle is installed. Runs as root before
// relaykit.service at every boot, but only rewrites /etc/relaykit when the seed carries a bundle
// different from the installed one. It may touch: the cidata volume (read-only mount under /run),
// /etc/relaykit, and /run/relaykit (console facts). It never logs file contents (they hold keys).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUNDLE_FILE, installBundle, installedDigest, parseBundle } from './bundle-file.ts';

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

/** The first-boot step: 0 when the relay may start, 1 when there is nothing safe to run. */
export function firstboot(): number {
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
