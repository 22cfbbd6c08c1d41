// fleet/ room: the per-client folder `tenant add` and `tenant rotate` write — client.json (the checked
// client entry, no secrets), the Exchange scripts, one appliance bundle per site, the ACS records and
// NEXT-STEPS.txt — through infra/output-files.ts, the same renderer `npm run plan` uses.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outputFiles, writeOutputFiles } from '../../infra/output-files.ts';
import type { Client } from './client-file.ts';
import type { StackOutputs } from './engine.ts';

export function clientDir(out: string, client: string): string {
  return join(out, client);
}

/** Output values as plain JSON (the engine marks secrets; the files keep them at mode 0600). */
export function plainOutputs(outputs: StackOutputs): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
}

/** Writes the files; returns their paths relative to the client folder, sorted. */
export function writeClientFolder(
  dir: string,
  client: Client,
  outputs: StackOutputs,
  nextSteps: string[],
): string[] {
  mkdirSync(dir, { recursive: true });
  const files = outputFiles(plainOutputs(outputs));
  writeOutputFiles(dir, files);
  writeFileSync(join(dir, 'client.json'), `${JSON.stringify(client, null, 2)}\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'NEXT-STEPS.txt'), `${nextSteps.join('\n')}\n`, { mode: 0o644 });
  return [...Object.keys(files), 'client.json', 'NEXT-STEPS.txt'].sort();
}

export function readClientEntry(dir: string): Client | undefined {
  const path = join(dir, 'client.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Client) : undefined;
}

/** Removes the bundles (they hold private keys of a destroyed identity); keeps scripts and notes. */
export function removeBundles(dir: string): void {
  rmSync(join(dir, 'bundles'), { recursive: true, force: true });
  rmSync(join(dir, 'bundle.json'), { force: true });
}
