// `npm start` is how the README runs the relay, so a signal to npm must reach the relay: it drains,
// exits, and nothing is left holding the SMTP port. npm forwards SIGTERM/SIGINT only to its direct
// child, which is why the npm scripts `exec` the relay instead of leaving a shell in between.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applianceSandbox, baseConfigInput, waitFor } from '../../helpers/appliance.ts';
import { writeConfig } from '../../helpers/child-appliance.ts';
import { freePort, portIsFree } from '../../helpers/ports.ts';

const ROOT = join(import.meta.dirname, '../../..');
const sandbox = applianceSandbox();
const leftovers: number[] = [];

afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Every descendant of pid (Linux /proc), children first. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return out;
  for (const tid of readdirSync(tasks)) {
    let text = '';
    try {
      text = readFileSync(`${tasks}/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of text.split(' ').filter(Boolean).map(Number)) {
      out.push(child, ...descendants(child));
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

async function startNpm(
  script: string[],
  port: number,
): Promise<{ npm: ChildProcess; relay: number; output: () => string }> {
  const input = {
    ...baseConfigInput(sandbox.dir),
    listeners: [{ name: 'test', address: '127.0.0.1', port, auth: false }],
    http: { enabled: false },
    log: { level: 'info' as const },
  };
  const config = await writeConfig(sandbox.dir, input);
  // detached: its own process group, as a shell job is, so the test can signal the group like Ctrl-C.
  const npm = spawn('npm', script, {
    cwd: ROOT,
    env: { ...process.env, RELAYKIT_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  npm.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  npm.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor(() => (out.includes('"appliance started"') ? true : undefined), 30_000);
  const tree = descendants(npm.pid as number);
  // The deepest match: without exec, `sh -c "node …main.ts"` sits in between and matches too.
  const relay = tree.filter((p) => cmdline(p).includes('appliance/src/main.ts')).at(-1);
  expect(relay, `no relay process under npm:\n${out}`).toBeDefined();
  leftovers.push(...tree, npm.pid as number);
  return { npm, relay: relay as number, output: () => out };
}

describe('npm start / npm run appliance pass signals to the relay', () => {
  it.each([
    ['npm start', 'SIGTERM', 'npm process', ['start']],
    ['npm start', 'SIGINT', 'npm process', ['start']],
    ['npm start', 'SIGINT', 'process group', ['start']],
    ['npm run appliance -- run', 'SIGTERM', 'npm process', ['run', 'appliance', '--', 'run']],
  ] as const)(
    '%s, %s to the %s: the relay drains, exits and frees its port',
    async (_name, signal, target, script) => {
      const port = await freePort();
      const { npm, relay, output } = await startNpm([...script], port);
      expect(await portIsFree(port)).toBe(false);
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      // A process group signal is what Ctrl-C in a terminal does: npm and the relay both get it, then npm forwards a copy.
      process.kill(target === 'process group' ? -(npm.pid as number) : (npm.pid as number), signal);
      expect(await exited).toBe(0);
      expect(existsSync(`/proc/${relay}`)).toBe(false);
      expect(await portIsFree(port)).toBe(true);
      expect(output()).toContain(`"signal":"${signal}","msg":"stopping: draining deliveries"`);
      expect(output()).toMatch(/"drained":true,"msg":"stopped"/);
    },
  );
});
