// fleet/ room: the `relaykit` command tree for the MSP's workstation (commander), built the way the
// appliance CLI builds its own (appliance/src/cli/program.ts): every command gets --help, --version,
// the usage line after a usage error and exit 2 for one; failures print one line, never a stack.
// The appliance never imports this room (test/fleet/boundary.test.ts).
import type { Command } from 'commander';
import { applyConventions, rootCommand, runProgram } from '../../appliance/src/cli/command-tree.ts';
import { version } from '../../appliance/src/version.ts';
import { createFleetContext, EXIT, type FleetDeps, PROGRAM } from './cli-kit.ts';
import { registerFleetStatus, registerTenantList, registerTenantStatus } from './commands/status.ts';
import { registerTenantAdd } from './commands/tenant-add.ts';
import { registerTenantRemove } from './commands/tenant-remove.ts';
import { registerTenantRotate } from './commands/tenant-rotate.ts';

export function buildFleetProgram(deps: FleetDeps, setExit: (code: number) => void): Command {
  const program = rootCommand(
    PROGRAM,
    'relaykit for MSPs: onboard and watch client tenants (one Pulumi stack per client)',
    deps.io,
  );
  const cli = createFleetContext(deps, setExit);
  const tenant = program
    .command('tenant')
    .description('one client tenant: add, list, status, rotate, remove');
  registerTenantAdd(tenant, cli);
  registerTenantList(tenant, cli);
  registerTenantStatus(tenant, cli);
  registerTenantRotate(tenant, cli);
  registerTenantRemove(tenant, cli);
  const fleet = program.command('fleet').description('every client at once');
  registerFleetStatus(fleet, cli);
  applyConventions(program, version);
  return program;
}

/** Runs one command line; resolves to the exit status. Never throws for a bad command line. */
export async function runFleetCli(argv: readonly string[], deps: FleetDeps): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildFleetProgram(deps, (code) => {
    exit = code;
  });
  return runProgram(program, argv, () => exit);
}
