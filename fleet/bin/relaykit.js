#!/usr/bin/env node
// Command-line entry of `relaykit`, the MSP command (fleet/). TypeScript run by Node's type stripping
// (Node >= 22.18; the project provisions Node 24): no build step, no dist/ to keep in sync.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
if (process.features.typescript) {
  const { main: run } = await import(main);
  process.exitCode = await run(process.argv.slice(2));
} else {
  const r = spawnSync(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', main, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(r.status ?? 1);
}
