// The one loader behind both command-line entries (appliance/bin/relaykit-appliance.js and
// fleet/bin/relaykit.js): runs a TypeScript `main(argv)` module with Node's built-in type stripping
// (Node >= 22.18 or 23.6; the project provisions Node 24), so there is no build step and no dist/ to
// keep in sync. On an older Node with the flag, it re-runs itself with --experimental-strip-types.
// Plain JavaScript: it is what runs before any TypeScript can. (The images run the bundled
// appliance/image/cli-entry.ts instead.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs the module at `mainUrl` (exporting `main(argv): Promise<number>`) with this process's args. */
export async function launch(mainUrl) {
  const args = process.argv.slice(2);
  if (process.features.typescript) {
    const { main } = await import(mainUrl.href);
    // process.exit, not a natural exit: Node's teardown puts SIGINT/SIGTERM back to their default
    // action first, and a second stop signal then would kill a drained relay by signal (see
    // appliance/src/main.ts exitNow).
    process.exit(await main(args));
  }
  const r = spawnSync(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', fileURLToPath(mainUrl), ...args],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}
