// relaykit-appliance: the process entry. Sets process-wide knobs, then hands the command line to the
// CLI (cli/program.ts); the exit status is the command's.
// Spool and capture fsyncs run on libuv's pool; 4 threads (the default) serialise them under load.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli/program.ts';

/**
 * Ends the process with the command's status as soon as the command is done. Not a natural exit: on
 * the way out Node closes its signal handles first, which puts SIGINT/SIGTERM back to their default
 * action while the process still tears down, and under `npm start` Ctrl-C arrives twice (the
 * terminal's and npm's forwarded copy) — a copy landing in that window killed an already drained
 * relay by signal, and npm then exits by the same signal instead of 0 (npm-start.test.ts, 2 in 6
 * runs under load). process.exit leaves the handlers in place to the end. stdout/stderr are
 * synchronous for files, pipes and terminals on Linux, so nothing written is lost.
 */
export function exitNow(code: number): never {
  process.exit(code);
}

/** Runs one command line in-process (tests pass captured streams). */
export const main = runCli;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => exitNow(code),
    (err: unknown) => {
      console.error(`relaykit-appliance: ${err instanceof Error ? err.message : String(err)}`);
      exitNow(1);
    },
  );
}
