// Runs the appliance as a real child process (the way an operator does), for crash and signal tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../appliance/src/config/schema.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');

export interface ChildAppliance {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly httpPort: number | undefined;
  output(): string;
  exited: Promise<number | null>;
}

export async function writeConfig(dir: string, config: ConfigInput): Promise<string> {
  const path = join(dir, 'config.yaml');
  await writeFile(path, stringify(config));
  return path;
}

/**
 * Starts `relaykit-appliance run --config FILE` and resolves once it logs that it started. `prefix`
 * runs it through another command that execs it (e.g. `ip netns exec NS`), so the child is the relay.
 */
export async function startChild(
  configPath: string,
  timeoutMs = 20_000,
  prefix: readonly string[] = [],
): Promise<ChildAppliance> {
  const argv = [NODE, join(ROOT, 'appliance/src/main.ts'), 'run', '--config', configPath];
  const [cmd, ...args] = [...prefix, ...argv] as [string, ...string[]];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = await new Promise<{ port: number; http?: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`appliance did not start in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const check = () => {
      const line = out.split('\n').find((l) => l.includes('"appliance started"'));
      if (line) {
        clearTimeout(timer);
        const j = JSON.parse(line) as { listeners: { port: number }[]; http?: number };
        resolve({
          port: (j.listeners[0] as { port: number }).port,
          ...(j.http === undefined ? {} : { http: j.http }),
        });
      }
    };
    proc.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`appliance exited (${code}) before starting:\n${out}`));
    });
  });
  return { proc, port: started.port, httpPort: started.http, output: () => out, exited };
}
