// fleet/ room: the `relaykit` command tree for the MSP's workstation (commander), built the way the
// appliance CLI builds its own (appliance/src/cli/program.ts): every command gets --help, --version,
// the usage line after a usage error and exit 2 for one; failures print one line, never a stack.
// The appliance never imports this room (test/fleet/boundary.test.ts).
import { Command, CommanderError } from 'commander';
import { processIo } from '../../appliance/src/cli/io.ts';
import { version } from '../../appliance/src/version.ts';
import { createFleetContext, EXIT, type FleetDeps, PROGRAM } from './cli-kit.ts';
import { registerFleetStatus, registerTenantList, registerTenantStatus } from './commands/status.ts';
import { registerTenantAdd } from './commands/tenant-add.ts';
import { registerTenantRemove } from './commands/tenant-remove.ts';
import { registerTenantRotate } from './commands/tenant-rotate.ts';

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function* walk(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* walk(sub);
}

export function buildFleetProgram(deps: FleetDeps, setExit: (code: number) => void): Command {
  const program = new Command(PROGRAM)
    .description('relaykit for MSPs: onboard and watch client tenants (one Pulumi stack per client)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.io.stdout.write(s), writeErr: (s) => deps.io.stderr.write(s) })
    .configureHelp({ styleTitle: (t) => (t === 'Usage:' ? 'usage:' : t), showGlobalOptions: false });
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
  for (const cmd of walk(program)) {
    if (cmd !== program) cmd.helpCommand(false);
    cmd.version(version, '-V, --version', 'print the version and exit');
    cmd.showHelpAfterError(`usage: ${fullName(cmd)} ${cmd.usage()}\n(see '${fullName(cmd)} --help')`);
  }
  return program;
}

/** Runs one command line; resolves to the exit status. Never throws for a bad command line. */
export async function runFleetCli(argv: readonly string[], deps: FleetDeps): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildFleetProgram(deps, (code) => {
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
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
}

export { processIo };
