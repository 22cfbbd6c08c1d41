// CLI room: the `relaykit-appliance` command tree (commander). Each command lives in its own cli/
// module exporting one register function; COMMANDS lists them in the order help shows them.
//
// Adding a command: write cli/<name>.ts exporting `register<Name>(program, cli)` that declares the
// command with commander (arguments, options — configOption() for anything that reads the config —
// description) and passes its body through cli.action(); add it to COMMANDS; add it to the README's
// CLI reference. command-tree.ts gives it --help, --version, the usage line after a usage error
// and exit 2 for one; test/appliance/cli/conventions.test.ts checks every command help lists.
import type { Command } from 'commander';
import { version } from '../version.ts';
import { registerCheck } from './check.ts';
import { type CliContext, createContext, EXIT, PROGRAM } from './command-kit.ts';
import { applyConventions, rootCommand, runProgram } from './command-tree.ts';
import { registerHashPassword } from './hash-password.ts';
import { registerHealth } from './health.ts';
import { type CliIo, processIo } from './io.ts';
import { registerDead, registerQueue } from './queue.ts';
import { registerRoute } from './route-explain.ts';
import { registerRun } from './run.ts';
import { registerTestRoute } from './test-route.ts';

const COMMANDS: readonly ((program: Command, cli: CliContext) => void)[] = [
  registerRun,
  registerCheck,
  registerQueue,
  registerDead,
  registerRoute,
  registerTestRoute,
  registerHashPassword,
  registerHealth,
];

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = rootCommand(
    PROGRAM,
    'relaykit edge appliance: SMTP in, durable spool, delivery through Microsoft 365',
    io,
  );
  const cli = createContext(io, setExit);
  for (const register of COMMANDS) register(program, cli);
  applyConventions(program, version);
  return program;
}

/** Runs one command line; resolves to the exit status. Never throws for a bad command line. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exit = code;
  });
  return runProgram(program, argv, () => exit);
}
