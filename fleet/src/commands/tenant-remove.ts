// `relaykit tenant remove NAME --confirm NAME`: destroys the client's stack and removes it, keeping
// what must outlive it — DNS records at outside hosts, the verified sender domain, the mail history in
// the client's mailboxes, the Exchange objects the scripts created, the soft-deleted Key Vault — and
// prints what a human still has to do. The per-client folder stays (notes, scripts); bundles go.
import { type Command, Option } from 'commander';
import { println } from '../../../appliance/src/cli/io.ts';
import {
  EXIT,
  type FleetContext,
  FleetError,
  jsonOption,
  outOption,
  printJson,
  UsageError,
} from '../cli-kit.ts';
import { clientDir, readClientEntry, removeBundles } from '../client-folder.ts';
import { stackName } from '../stack-config.ts';

export function leftForHuman(
  name: string,
  tenantId: string | undefined,
  acsDomain: string | undefined,
  sites: readonly string[],
): string[] {
  const t = tenantId ?? '(see client.json)';
  return [
    `Left for a human after removing ${name}:`,
    `- Exchange Online (tenant ${t}): remove the management scope / role assignment or application access policy and any inbound connector the scripts created (Remove-ManagementRoleAssignment, Remove-ManagementScope, Remove-ApplicationAccessPolicy, Remove-InboundConnector).`,
    `- DNS at the outside host${acsDomain === undefined ? '' : ` of ${acsDomain}`}: the ACS verification TXT/CNAME records (SPF include, DKIM selectors) — kept on purpose; remove them when no other sender uses them.`,
    `- Sent mail stays in the senders' mailboxes (mail history is the client's); nothing was deleted there.`,
    `- The Key Vault is soft-deleted (purge protection): it is purged automatically after its retention.`,
    ...sites.map((s) => `- Site ${s}: wipe the appliance (its bundle's identity no longer exists in Entra).`),
  ];
}

export function registerTenantRemove(tenant: Command, cli: FleetContext): void {
  tenant
    .command('remove')
    .description("destroy a client's stack (needs --confirm NAME); prints what is left for a human")
    .argument('<name>', 'client code')
    .addOption(new Option('--confirm <name>', 'the client code again, to confirm'))
    .addOption(outOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (name: string, o: { confirm?: string; out: string; json?: boolean }) => {
        if (o.confirm !== name)
          throw new UsageError(
            `tenant remove destroys every resource of ${name}: repeat the name with --confirm ${name}`,
          );
        const engine = await cli.engine();
        const stack = stackName(name);
        if (!(await engine.hasStack(stack)))
          throw new FleetError(`relaykit: no stack for client ${name} (tenant list shows them)`);
        const dir = clientDir(o.out, name);
        const client = readClientEntry(dir);
        await engine.destroy(stack, (l) => {
          if (!o.json) println(cli.io.stderr, `${name}: ${l}`);
        });
        await engine.removeStack(stack);
        removeBundles(dir);
        const left = leftForHuman(
          name,
          client?.tenantId,
          client?.acsDomain,
          client?.sites.map((s) => s.name) ?? [],
        );
        if (o.json) return printJson(cli.io, { client: name, stack, destroyed: true, left: left.slice(1) });
        println(
          cli.io.stdout,
          `removed ${name}: stack ${stack} destroyed and deleted; bundles deleted, notes kept in ${dir}`,
        );
        for (const l of left) println(cli.io.stdout, l);
        return EXIT.ok;
      }),
    );
}
