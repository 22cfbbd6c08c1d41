// Debian tools some tests drive (swaks, postfix's smtp-source). Locally a missing tool skips the test
// with the reason shown; in CI (.ci/run installs them) a missing tool is a failure, never a skip.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TOOLS = {
  swaks: {
    path: '/usr/bin/swaks',
    apt: 'swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl',
  },
  'smtp-source': { path: '/usr/sbin/smtp-source', apt: 'postfix' },
} as const;

export type ToolName = keyof typeof TOOLS;

export function haveTool(name: ToolName): boolean {
  return existsSync(TOOLS[name].path);
}

/** Call at the top of a test; returns the tool's path. */
export function requireTool(
  ctx: { skip: (condition: boolean, note?: string) => void },
  name: ToolName,
): string {
  const tool = TOOLS[name];
  if (existsSync(tool.path)) return tool.path;
  const reason = `${name} is not installed (apt-get install ${tool.apt})`;
  if (process.env.CI) throw new Error(`${reason}; .ci/run must install it`);
  ctx.skip(true, reason);
  return tool.path;
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
