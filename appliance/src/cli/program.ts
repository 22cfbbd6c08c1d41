// CLI room: the `relaykit-appliance` command tree (commander). Each command lives in its own cli/
// module exporting one register function; COMMANDS lists them in the order help shows them.
//
// Adding a command: write cli/<name>.ts exporting `register<Name>(program, cli)` that declares the
// command with commander (arguments, options — configOption() for anything that reads the config —
// description) and passes its body through cli.action(); add it to COMMANDS; add it to the README's
// CLI reference. The tree walk below gives it --help, --version, the usage line after a usage error
// and exit 2 for one; test/appliance/cli/conventions.test.ts checks every command help lists.
import { Command, CommanderError } from 'commander';
import { version } from '../version.ts';
import { registerCheck } from './check.ts';
import { type CliContext, createContext, EXIT, PROGRAM } from './command-kit.ts';
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

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function* walk(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* walk(sub);
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command(PROGRAM)
    .description('relaykit edge appliance: SMTP in, durable spool, delivery through Microsoft 365')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    // git's style: "usage:" in lower case, so every command's help and usage lines read the same.
    .configureHelp({ styleTitle: (t) => (t === 'Usage:' ? 'usage:' : t), showGlobalOptions: false });
  const cli = createContext(io, setExit);
  for (const register of COMMANDS) register(program, cli);
  for (const cmd of walk(program)) {
    if (cmd !== program) cmd.helpCommand(false);
    cmd.version(version, '-V, --version', 'print the version and exit');
    cmd.showHelpAfterError(`usage: ${fullName(cmd)} ${cmd.usage()}\n(see '${fullName(cmd)} --help')`);
  }
  return program;
}

/** Runs one command line; resolves to the exit status. Never throws for a bad command line. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exit = code;
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (err) {
    // --help and --version end with exit code 0; every other commander exit is a usage error.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
}
