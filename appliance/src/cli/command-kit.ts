// CLI room: what every command module shares — the options every command takes the same way
// (--config with RELAYKIT_CONFIG, --json), the usage-error type, and the action wrapper that turns a
// command's result or failure into an exit status. Commands import this; program.ts assembles them.
import { type Command, CommanderError, Option } from 'commander';
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { isRelayError } from '../errors.ts';
import { type CliIo, println } from './io.ts';

export const PROGRAM = 'relaykit-appliance';

/** Exit statuses shared by every command (route explain adds 2 for "a recipient is rejected"). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command line that is wrong in a way only the command can see: exit 2, the reason and the usage. */
export class UsageError extends Error {}

export interface CliContext {
  readonly io: CliIo;
  /**
   * Wraps a command body for commander's .action(): the body's result is the exit status. A
   * UsageError prints one line and the usage (exit 2); a RelayError prints `CODE: message` (exit 1);
   * anything else prints its message (exit 1). Never a stack trace.
   */
  action<A extends unknown[]>(body: (...args: A) => Promise<number>): (...args: A) => Promise<void>;
}

/** `-c, --config FILE`, falling back to $RELAYKIT_CONFIG, then the embedded default. */
export function configOption(description = 'config file'): Option {
  return new Option('-c, --config <file>', description).env('RELAYKIT_CONFIG');
}

/** The config path a command should load; an empty RELAYKIT_CONFIG= counts as unset. */
export function configPath(opts: { config?: string }): string | undefined {
  return opts.config === '' ? undefined : opts.config;
}

/** Loads the config a command was given (--config, RELAYKIT_CONFIG, else the embedded default). */
export function loadCommandConfig(opts: { config?: string }): LoadedConfig {
  return loadConfig(configPath(opts));
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of the human view');
}

export function createContext(io: CliIo, setExit: (code: number) => void): CliContext {
  return {
    io,
    action<A extends unknown[]>(body: (...args: A) => Promise<number>) {
      return async (...args: A): Promise<void> => {
        const command = args[args.length - 1] as Command;
        try {
          setExit(await body(...args));
        } catch (err) {
          if (err instanceof CommanderError) throw err;
          if (err instanceof UsageError) {
            command.error(`error: ${err.message}`, { exitCode: EXIT.usage, code: 'relaykit.usage' });
          }
          println(
            io.stderr,
            isRelayError(err)
              ? `${err.code}: ${err.message}`
              : `${PROGRAM}: ${err instanceof Error ? err.message : String(err)}`,
          );
          setExit(EXIT.failed);
        }
      };
    },
  };
}
