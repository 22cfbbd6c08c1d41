// Runs `relaykit` in-process against the fake engine, with captured streams, a fixed clock and a
// temporary clients folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runFleetCli } from '../../fleet/src/program.ts';
import { captureIo } from '../helpers/io.ts';
import { FakeEngine, type FakeEngineOptions } from './fake-engine.ts';

export const NOW = Date.parse('2026-12-03T08:00:00Z');

export function client(name: string, n: number, extra: Record<string, unknown> = {}) {
  return {
    name,
    displayName: `Client ${name}`,
    tenantId: `8f0e3c52-6a1b-4d2e-9c47-${String(n).padStart(12, '0')}`,
    subscription: `2c4d6e8f-1a3b-4c5d-8e7f-${String(n).padStart(12, '0')}`,
    domains: [`${name}.example`],
    mailboxes: [`scanner@${name}.example`],
    sites: [{ name: 'hq', publicIp: '203.0.113.10', deviceNetworks: [`10.${n % 250}.1.0/24`] }],
    routes: ['graph'],
    ...extra,
  };
}

export interface Harness {
  readonly engine: FakeEngine;
  readonly out: string;
  readonly dir: string;
  run(
    argv: readonly string[],
    env?: Record<string, string>,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  clientFile(clients: unknown[], name?: string): string;
}

export function harness(opts: Partial<FakeEngineOptions> = {}, fetchFn: typeof fetch = fetch): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'relaykit-fleet-'));
  const out = join(dir, 'clients');
  const engine = new FakeEngine({ now: () => NOW, ...opts });
  return {
    engine,
    out,
    dir,
    async run(argv, env = {}) {
      const io = { ...captureIo(), now: () => NOW };
      // commander reads --out's fallback from process.env itself.
      process.env.RELAYKIT_CLIENTS_DIR = out;
      const code = await runFleetCli(argv, {
        io,
        env: { RELAYKIT_CLIENTS_DIR: out, ...env },
        fetch: fetchFn,
        engine: async () => engine,
      });
      return { code, stdout: io.out(), stderr: io.err() };
    },
    clientFile(clients, name = 'clients.yaml') {
      const path = join(dir, name);
      writeFileSync(path, stringify({ clients }));
      return path;
    },
  };
}
