// Debian tools and machine capabilities some tests need (swaks with its TLS modules, postfix's
// smtp-source, an IPv6 loopback). Locally a missing one skips the test with its name and how to get
// it; in CI (CI=1, set by .ci/run, which installs the tools) it fails the test, never skips. The
// vitest reporter test/helpers/ci-skip-reporter.ts fails a CI run with any skip left over.

import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

export const TOOLS = {
  swaks: {
    path: '/usr/bin/swaks',
    apt: 'swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl',
  },
  'smtp-source': { path: '/usr/sbin/smtp-source', apt: 'postfix' },
  // The VM's service notifications go through systemd's own client; perl (Essential in Debian) binds
  // the unix datagram socket that stands in for systemd's, since Node cannot.
  'systemd-notify': { path: '/usr/bin/systemd-notify', apt: 'systemd' },
  perl: { path: '/usr/bin/perl', apt: 'perl-base' },
  // A real syslog receiver (imtcp, and the GnuTLS stream driver for RFC 5425).
  rsyslogd: { path: '/usr/sbin/rsyslogd', apt: 'rsyslog rsyslog-gnutls' },
} as const;

export type ToolName = keyof typeof TOOLS;

/** Features of swaks that come from optional Perl modules, as `swaks --support` names them. */
export type SwaksFeature = 'TLS' | 'Basic AUTH';

export interface SkipContext {
  skip: (condition: boolean, note?: string) => void;
}

export function haveTool(name: ToolName): boolean {
  return existsSync(TOOLS[name].path);
}

/** In CI a missing prerequisite is a failure; locally the test is skipped with the reason. */
export function missing(ctx: SkipContext, reason: string): never {
  if (process.env.CI) throw new Error(`${reason} (CI must provide it: .ci/install/)`);
  ctx.skip(true, reason);
  throw new Error('unreachable: ctx.skip throws');
}

/**
 * Swaks features this machine lacks: `swaks --support` prints "=== TLS supported" or
 * "*** TLS not available: requires Net::SSLeay" per feature (swaks(1), --support).
 */
export function swaksMissing(features: readonly SwaksFeature[]): string[] {
  // Supported features go to stdout, missing ones to stderr.
  const r = spawnSync(TOOLS.swaks.path, ['--support'], { encoding: 'utf8' });
  const out = `${r.stdout}\n${r.stderr}`;
  return features.flatMap((f) => {
    if (new RegExp(`^=== ${f} supported$`, 'm').test(out)) return [];
    const why = new RegExp(`^\\*\\*\\* ${f} not available: (.*)$`, 'm').exec(out)?.[1];
    return [`swaks: ${f} not available${why ? ` (${why})` : ''}`];
  });
}

/** Call at the top of a test; returns the tool's path. For swaks, also checks the features used. */
export function requireTool(
  ctx: SkipContext,
  name: ToolName,
  features: readonly SwaksFeature[] = [],
): string {
  const tool = TOOLS[name];
  if (!existsSync(tool.path)) missing(ctx, `${name} is not installed (apt-get install ${tool.apt})`);
  if (name === 'swaks' && features.length > 0) {
    const lacking = swaksMissing(features);
    if (lacking.length > 0) missing(ctx, `${lacking.join('; ')} (apt-get install ${tool.apt})`);
  }
  return tool.path;
}

/** True when ::1 is configured: a connection to a closed port there is refused, not unroutable. */
export function probeIpv6Loopback(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect({ host: '::1', port: 9 });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
  });
}

/** Call at the top of a test that listens on ::1. */
export async function requireIpv6Loopback(ctx: SkipContext): Promise<void> {
  if (!(await probeIpv6Loopback())) {
    missing(ctx, 'capability "IPv6 loopback" is missing: ::1 is not configured on lo');
  }
}

export function run(
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
