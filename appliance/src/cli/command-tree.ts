// CLI room: the conventions every relaykit command tree keeps — `relaykit-appliance` here and the MSP's
// `relaykit` (fleet/) — in one place: git-style "usage:" help, --version and no `help` subcommand on
// every command, the usage line after a usage error, and a runner that turns commander's exits into
// statuses (0 for --help/--version, 2 for usage errors). Commander only; no relaykit imports.
import { Command, CommanderError, Option } from 'commander';
import { type CliIo, println } from './io.ts';

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function* walk(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* walk(sub);
}

/** The root command, writing to io, with throw-instead-of-exit and the shared help style. */
export function rootCommand(name: string, description: string, io: CliIo): Command {
  return (
    new Command(name)
      .description(description)
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
      // git's style: "usage:" in lower case, so every command's help and usage lines read the same.
      .configureHelp({ styleTitle: (t) => (t === 'Usage:' ? 'usage:' : t), showGlobalOptions: false })
  );
}

/** After every command is registered: --version, the usage after an error, no help subcommand. */
export function applyConventions(program: Command, version: string): void {
  for (const cmd of walk(program)) {
    if (cmd !== program) cmd.helpCommand(false);
    cmd.version(version, '-V, --version', 'print the version and exit');
    cmd.showHelpAfterError(`usage: ${fullName(cmd)} ${cmd.usage()}\n(see '${fullName(cmd)} --help')`);
  }
}

/**
 * Parses one command line; resolves to the exit status the command's action set (through getExit),
 * 0 after --help/--version, 2 after a usage error. No arguments prints the help.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  getExit: () => number,
): Promise<number> {
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return getExit();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
}

/** Exit statuses shared by both command trees (route explain adds 3 for "a recipient is refused"). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command line that is wrong in a way only the command can see: exit 2, the reason and the usage. */
export class UsageError extends Error {}

/** `--json`: the same flag, worded the same, on every command that prints something. */
export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of the human view');
}

/**
 * The action wrapper both trees use for commander's .action(): the body's result is the exit status;
 * a UsageError prints one line and the usage (exit 2); any other failure prints `describe(err)` on
 * stderr (exit 1). Never a stack trace.
 */
export function exitAction(
  stderr: CliIo['stderr'],
  setExit: (code: number) => void,
  describe: (err: unknown) => string,
) {
  return <A extends unknown[]>(body: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      const command = args[args.length - 1] as Command;
      try {
        setExit(await body(...args));
      } catch (err) {
        if (err instanceof CommanderError) throw err;
        if (err instanceof UsageError) {
          command.error(`error: ${err.message}`, { exitCode: EXIT.usage, code: 'relaykit.usage' });
        }
        println(stderr, describe(err));
        setExit(EXIT.failed);
      }
    };
}
