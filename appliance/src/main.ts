// relaykit-appliance: the process entry. Sets process-wide knobs, then hands the command line to the
// CLI (cli/program.ts); the exit status is the command's.
// Spool and capture fsyncs run on libuv's pool; 4 threads (the default) serialise them under load.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli/program.ts';

/** Runs one command line in-process (tests pass captured streams). */
export const main = runCli;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`relaykit-appliance: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
