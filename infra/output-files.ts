// infra/ room: turns a tenant stack's outputs into the files an operator hands on — the Exchange
// scripts, the ACS verification table and one appliance bundle per site. Used by `npm run plan` on
// the mocked outputs and, for a real stack, as
//   pulumi stack output --json --show-secrets | node infra/output-files.ts <dir>
// The pure `outputFiles` decides names, contents and modes; `writeOutputFiles` only writes them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface OutputFile {
  readonly content: string;
  /** 0o600 for anything holding a private key or password. */
  readonly mode: number;
}

function stringMap(value: unknown, key: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`stack output ${key} is not a map`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Error(`stack output ${key}.${k} is not text`);
    if (v.startsWith('[secret]')) throw new Error(`stack output ${key} is hidden: add --show-secrets`);
  }
  return value as Record<string, string>;
}

/** Relative path → file, from `pulumi stack output --json` (or the resolved mock outputs). */
export function outputFiles(outputs: Record<string, unknown>): Record<string, OutputFile> {
  const files: Record<string, OutputFile> = {};
  for (const [name, text] of Object.entries(stringMap(outputs.exchangeScripts, 'exchangeScripts'))) {
    if (!/^[a-z0-9-]+\.ps1$/.test(name)) throw new Error(`unexpected script name ${name}`);
    files[`exchange/${name}`] = { content: text, mode: 0o644 };
  }
  const bundles = stringMap(outputs.bundles, 'bundles');
  const sites = Object.keys(bundles);
  for (const site of sites) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(site)) throw new Error(`unexpected site name ${site}`);
    files[`bundles/${site}.json`] = { content: bundles[site] ?? '', mode: 0o600 };
  }
  // The bundle contract names one file; the first site's goes there for single-site clients.
  if (sites[0] !== undefined) files['bundle.json'] = { content: bundles[sites[0]] ?? '', mode: 0o600 };
  if (typeof outputs.acsVerificationTable === 'string') {
    files['acs-verification-records.txt'] = { content: `${outputs.acsVerificationTable}\n`, mode: 0o644 };
  }
  return files;
}

export function writeOutputFiles(dir: string, files: Record<string, OutputFile>): void {
  for (const [rel, file] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content, { mode: file.mode });
  }
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined)
    throw new Error('usage: pulumi stack output --json --show-secrets | node infra/output-files.ts <dir>');
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const files = outputFiles(JSON.parse(text) as Record<string, unknown>);
  writeOutputFiles(dir, files);
  for (const rel of Object.keys(files)) console.log(`wrote ${join(dir, rel)}`);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
