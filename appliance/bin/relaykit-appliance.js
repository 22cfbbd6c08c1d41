#!/usr/bin/env node
// Command-line entry. The appliance is TypeScript run by Node's built-in type stripping (Node >= 22.18
// or 23.6; the project provisions Node 24), so there is no build step and no dist/ to keep in sync.
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
