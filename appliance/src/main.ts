// relaykit-appliance: the command line. Each subcommand lives in cli/; this file only dispatches.
// Spool and capture fsyncs run on libuv's pool; 4 threads (the default) serialise them under load.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommand } from './cli/check.ts';
import { hashPasswordCommand } from './cli/hash-password.ts';
import { type CliIo, println, processIo } from './cli/io.ts';
import { queueCommand } from './cli/queue.ts';
import { routeCommand } from './cli/route-explain.ts';
import { runCommand } from './cli/run.ts';

const USAGE = `relaykit-appliance <command>

  run [--config FILE]              start the appliance (embedded default without --config)
  check --config FILE              validate a config file; warn about risky settings
  hash-password                    read a password on stdin, print its scrypt hash
  queue list|show|retry|delete     inspect and act on queued messages
  dead list|show|requeue|delete    inspect and act on dead-lettered messages
  route explain --config FILE --from A --to B [--size N] [--header K:V] [--identity I]`;

type Command = (argv: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  check: checkCommand,
  'hash-password': hashPasswordCommand,
  queue: (argv, io) => queueCommand('queue', argv, io),
  dead: (argv, io) => queueCommand('dead', argv, io),
  route: routeCommand,
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    println(name === undefined || name === 'help' || name === '--help' ? io.stdout : io.stderr, USAGE);
    return name === undefined || name === 'help' || name === '--help' ? 0 : 2;
  }
  return command(rest, io);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
