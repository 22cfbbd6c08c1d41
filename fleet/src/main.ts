// fleet/ room: the process entry of `relaykit` (npm run relaykit, bin/relaykit.js). Wires the real
// engine (Pulumi Automation API, loaded only when a command needs it) into the command tree.
import { processIo } from '../../appliance/src/cli/io.ts';
import { FleetError } from './cli-kit.ts';
import { runFleetCli } from './program.ts';

export async function main(argv: readonly string[]): Promise<number> {
  return runFleetCli(argv, {
    io: processIo,
    env: process.env,
    fetch,
    engine: async () => {
      const { findPulumi, openPulumiEngine } = await import('./pulumi-engine.ts').catch(() => {
        throw new FleetError(
          'relaykit: the Pulumi SDK (@pulumi/pulumi) is not installed: run npm ci in the relaykit checkout',
        );
      });
      const cli = findPulumi(process.env);
      return openPulumiEngine({ pulumi: cli, env: process.env, workDir: process.cwd() });
    },
  });
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
