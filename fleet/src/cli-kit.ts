// fleet/ room: what every `relaykit` command shares — the context (streams, clock, environment, the
// engine and the per-client folders), --json, the usage-error type and the action wrapper that turns
// a command's result or failure into an exit status (no stack traces), as the appliance CLI does.
import { Option } from 'commander';
import { EXIT, exitAction, jsonOption, UsageError } from '../../appliance/src/cli/command-tree.ts';
import { type CliIo, println } from '../../appliance/src/cli/io.ts';
import { ClientFileError } from './client-file.ts';
import type { FleetEngine } from './engine.ts';

export const PROGRAM = 'relaykit';
export { EXIT, jsonOption, UsageError };

/** A failure the command explains in its message (printed as is, exit 1). */
export class FleetError extends Error {}

export interface FleetDeps {
  readonly io: CliIo;
  /** The engine, created on first use (the real one needs the pulumi CLI on PATH). */
  readonly engine: () => Promise<FleetEngine>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Site status probes: GET with a bearer token (injected so tests use loopback servers). */
  readonly fetch: typeof fetch;
}

export interface FleetContext extends FleetDeps {
  readonly now: () => number;
  action<A extends unknown[]>(body: (...args: A) => Promise<number>): (...args: A) => Promise<void>;
}

/** Where per-client folders go: --out, $RELAYKIT_CLIENTS_DIR, else ./relaykit-clients. */
export function outOption(): Option {
  return new Option('--out <dir>', 'folder holding one folder per client')
    .env('RELAYKIT_CLIENTS_DIR')
    .default('relaykit-clients');
}

export function createFleetContext(deps: FleetDeps, setExit: (code: number) => void): FleetContext {
  return {
    ...deps,
    now: deps.io.now ?? Date.now,
    action: exitAction(deps.io.stderr, setExit, (err) =>
      err instanceof ClientFileError || err instanceof FleetError
        ? err.message
        : `${PROGRAM}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ),
  };
}

/** Prints JSON for scripts; returns exit 0 so a command can `return printJson(...)`. */
export function printJson(io: CliIo, value: unknown): number {
  println(io.stdout, JSON.stringify(value, null, 2));
  return EXIT.ok;
}
