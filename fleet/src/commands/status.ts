// `relaykit tenant status NAME`, `relaykit fleet status` and `relaykit tenant list`: read the stacks
// (outputs, a refresh preview for drift) and the sites' status endpoints; one table for the fleet.
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { println } from '../../../appliance/src/cli/io.ts';
import { isoTime, table } from '../../../appliance/src/cli/table.ts';
import { EXIT, type FleetContext, FleetError, jsonOption, outOption, printJson } from '../cli-kit.ts';
import { clientDir, readClientEntry } from '../client-folder.ts';
import type { FleetEngine } from '../engine.ts';
import { probeSite } from '../site-probe.ts';
import { stackName } from '../stack-config.ts';
import {
  acsRows,
  type ClientStatus,
  driftText,
  expiryRows,
  FLEET_HEADER,
  fleetRow,
  warnings,
} from '../status-model.ts';
import { bounded } from './tenant-add.ts';

interface StatusOpts {
  out: string;
  json?: boolean;
  tokenFile?: string;
  drift: boolean;
  concurrency?: string;
}

function monitoringToken(cli: FleetContext, o: StatusOpts): string | undefined {
  if (o.tokenFile !== undefined) return readFileSync(o.tokenFile, 'utf8').trim();
  return cli.env.RELAYKIT_MONITORING_TOKEN || undefined;
}

export async function clientStatus(
  cli: FleetContext,
  engine: FleetEngine,
  client: string,
  o: StatusOpts,
): Promise<ClientStatus> {
  const stack = stackName(client);
  const [outputs, changes] = await Promise.all([
    engine.outputs(stack),
    o.drift ? engine.previewRefresh(stack) : Promise.resolve(undefined),
  ]);
  const entry = readClientEntry(clientDir(o.out, client));
  const token = monitoringToken(cli, o);
  const siteNames = entry?.sites ?? [];
  const sites = await Promise.all(siteNames.map((s) => probeSite(s.name, s.statusUrl, token, cli.fetch)));
  return {
    client,
    expiry: expiryRows(outputs.credentialExpiry?.value, cli.now()),
    acs: acsRows(outputs.acsVerificationStatus?.value),
    drift: o.drift ? driftText(changes) : 'not checked',
    sites,
  };
}

const statusOptions = (cmd: Command) =>
  cmd
    .addOption(
      new Option(
        '--token-file <file>',
        "the sites' monitoring bearer token (else $RELAYKIT_MONITORING_TOKEN)",
      ),
    )
    .addOption(new Option('--no-drift', 'skip the refresh preview (faster; drift shows "not checked")'))
    .addOption(outOption())
    .addOption(jsonOption());

export function registerTenantStatus(tenant: Command, cli: FleetContext): void {
  statusOptions(
    tenant
      .command('status')
      .description("one client: credential expiry, ACS verification per record, drift, each site's health")
      .argument('<name>', 'client code'),
  ).action(
    cli.action(async (name: string, o: StatusOpts) => {
      const engine = await cli.engine();
      if (!(await engine.hasStack(stackName(name))))
        throw new FleetError(`relaykit: no stack for client ${name} (tenant list shows them)`);
      const s = await clientStatus(cli, engine, name, o);
      if (o.json) return printJson(cli.io, s);
      const out = (l: string) => println(cli.io.stdout, l);
      out(`client ${name} (stack ${stackName(name)}), drift: ${s.drift}`);
      out('');
      for (const l of table(
        ['CREDENTIAL', 'ID', 'STATE', 'EXPIRES', 'DAYS', 'LEVEL'],
        s.expiry.map((r) => [r.credential, r.id, r.state, r.expires, String(r.daysLeft), r.level]),
      ))
        out(l);
      out('');
      if (s.acs.length > 0) {
        for (const l of table(
          ['ACS RECORD', 'STATE'],
          s.acs.map((a) => [a.record, a.state]),
        ))
          out(l);
        out('');
      }
      for (const l of table(
        ['SITE', 'HEALTH', 'PROBLEMS'],
        s.sites.map((x) => [x.site, x.health, x.problems.join('; ')]),
      ))
        out(l);
      const w = warnings(s);
      if (w.length > 0) {
        out('');
        for (const l of w) out(`warning: ${l}`);
      }
      return EXIT.ok;
    }),
  );
}

export function registerFleetStatus(fleet: Command, cli: FleetContext): void {
  statusOptions(
    fleet.command('status').description('every client in one table: credentials, ACS, drift, sites'),
  )
    .addOption(new Option('--concurrency <n>', 'stacks read at a time').default('8'))
    .action(
      cli.action(async (o: StatusOpts) => {
        const engine = await cli.engine();
        const stacks = await engine.listStacks();
        const limit = Math.max(1, Math.min(32, Number(o.concurrency) || 8));
        const all = await bounded(stacks, limit, (s) => clientStatus(cli, engine, s.name, o));
        if (o.json) return printJson(cli.io, { clients: all });
        for (const l of table(FLEET_HEADER, all.map(fleetRow))) println(cli.io.stdout, l);
        const w = all.flatMap(warnings);
        if (w.length > 0) println(cli.io.stdout);
        for (const l of w) println(cli.io.stdout, `warning: ${l}`);
        return EXIT.ok;
      }),
    );
}

export function registerTenantList(tenant: Command, cli: FleetContext): void {
  tenant
    .command('list')
    .description('every client stack: last update, result, resource count, sites')
    .addOption(outOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (o: { out: string; json?: boolean }) => {
        const engine = await cli.engine();
        const rows = (await engine.listStacks()).map((s) => ({
          ...s,
          sites: readClientEntry(clientDir(o.out, s.name))?.sites.map((x) => x.name) ?? [],
        }));
        if (o.json) return printJson(cli.io, { stacks: rows });
        const lines = table(
          ['STACK', 'LAST UPDATE', 'RESULT', 'RESOURCES', 'SITES'],
          rows.map((r) => [
            r.name,
            r.lastUpdate === undefined ? '-' : isoTime(r.lastUpdate),
            r.result ?? '-',
            r.resourceCount === undefined ? '-' : String(r.resourceCount),
            r.sites.join(',') || '-',
          ]),
        );
        for (const l of lines) println(cli.io.stdout, l);
        return EXIT.ok;
      }),
    );
}
