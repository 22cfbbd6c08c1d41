// CLI room: what every command module shares — the options every command takes the same way
// (--config with RELAYKIT_CONFIG, --json), the usage-error type, and the action wrapper that turns a
// command's result or failure into an exit status. Commands import this; program.ts assembles them.
import { Option } from 'commander';
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { isRelayError } from '../errors.ts';
import { EXIT, exitAction, jsonOption, UsageError } from './command-tree.ts';
import type { CliIo } from './io.ts';

export { EXIT, jsonOption, UsageError };

export const PROGRAM = 'relaykit-appliance';

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

export function createContext(io: CliIo, setExit: (code: number) => void): CliContext {
  return {
    io,
    action: exitAction(io.stderr, setExit, (err) =>
      isRelayError(err)
        ? `${err.code}: ${err.message}`
        : `${PROGRAM}: ${err instanceof Error ? err.message : String(err)}`,
    ),
  };
}
