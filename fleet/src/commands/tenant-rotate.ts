// `relaykit tenant rotate NAME`: raise the certificate generations (mail and/or appliance) with
// RotatedAt today and RetirePrevious false, so the previous credential stays registered for
// credentialGraceDays; `up`; rewrite the site bundles; then ask each site which bundle it runs (the
// appliance certificate expiry its status endpoint reports, old vs new).
import { type Command, Option } from 'commander';
import { println } from '../../../appliance/src/cli/io.ts';
import { table } from '../../../appliance/src/cli/table.ts';
import { EXIT, type FleetContext, FleetError, jsonOption, outOption, printJson } from '../cli-kit.ts';
import { clientDir, plainOutputs, readClientEntry, writeClientFolder } from '../client-folder.ts';
import { nextSteps } from '../next-steps.ts';
import { probeSite } from '../site-probe.ts';
import { asStackConfig, rotationConfig, stackName } from '../stack-config.ts';
import { type ExpiryRow, expiryRows } from '../status-model.ts';

interface RotateOpts {
  only?: 'mail' | 'appliance';
  out: string;
  json?: boolean;
}

/** Which bundle a site runs, from the certificate expiries it reports. */
export function bundleState(
  reported: readonly string[],
  appliance: readonly ExpiryRow[],
  reachable: boolean,
): string {
  if (!reachable) return 'unknown (not reachable)';
  const same = (a: string, b: string) => Date.parse(a) === Date.parse(b);
  const current = appliance.find((r) => r.state === 'current');
  if (current !== undefined && reported.some((e) => same(e, current.expires))) return 'new bundle';
  const previous = appliance.find((r) => r.state === 'previous');
  if (previous !== undefined && reported.some((e) => same(e, previous.expires)))
    return `OLD bundle (works until ${previous.expires.slice(0, 10)}, credential ${previous.id})`;
  return 'unknown bundle';
}

export function registerTenantRotate(tenant: Command, cli: FleetContext): void {
  tenant
    .command('rotate')
    .description(
      'rotate credentials with overlap, re-bundle the sites, tell which sites still run the old bundle',
    )
    .argument('<name>', 'client code')
    .addOption(new Option('--only <which>', 'rotate only this credential').choices(['mail', 'appliance']))
    .addOption(outOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (name: string, o: RotateOpts) => {
        const engine = await cli.engine();
        const stack = stackName(name);
        if (!(await engine.hasStack(stack)))
          throw new FleetError(`relaykit: no stack for client ${name} (tenant list shows them)`);
        const dir = clientDir(o.out, name);
        const client = readClientEntry(dir);
        if (client === undefined)
          throw new FleetError(`relaykit: ${dir}/client.json is missing: run tenant add ${name} first`);
        const current = await engine.getConfig(stack);
        const change = rotationConfig(
          current,
          { mail: o.only !== 'appliance', appliance: o.only !== 'mail' },
          cli.now(),
        );
        await engine.setConfig(stack, asStackConfig(change));
        const outputs = await engine.up(stack, (l) => {
          if (!o.json) println(cli.io.stderr, `${name}: ${l}`);
        });
        const files = writeClientFolder(dir, client, outputs, nextSteps(client, dir, plainOutputs(outputs)));
        const expiry = expiryRows(outputs.credentialExpiry?.value, cli.now());
        const appliance = expiry.filter((r) => r.credential === 'appliance');
        const token = cli.env.RELAYKIT_MONITORING_TOKEN || undefined;
        const sites = await Promise.all(
          client.sites.map(async (s) => {
            const h = await probeSite(s.name, s.statusUrl, token, cli.fetch);
            const reachable =
              h.health !== 'unreachable' && h.health !== 'no-url' && !h.health.startsWith('http-');
            return {
              site: s.name,
              bundle: `bundles/${s.name}.json`,
              runs: bundleState(h.certificates, appliance, reachable),
            };
          }),
        );
        const changed = Object.fromEntries(Object.entries(change).map(([k, v]) => [k, v?.value]));
        if (o.json)
          return printJson(cli.io, {
            client: name,
            stack,
            config: changed,
            credentials: expiry,
            sites,
            files,
          });
        const out = (l: string) => println(cli.io.stdout, l);
        out(
          `rotated ${name}: ${Object.entries(changed)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
        for (const l of table(
          ['CREDENTIAL', 'ID', 'STATE', 'EXPIRES', 'RETIRES'],
          expiry.map((r) => [
            r.credential,
            r.id,
            r.state,
            r.expires,
            r.state === 'previous' ? `after the grace period (credentialGraceDays)` : '-',
          ]),
        ))
          out(l);
        out('');
        out(`new bundles in ${dir}/bundles; deliver them to every site:`);
        for (const l of table(
          ['SITE', 'BUNDLE', 'RUNS'],
          sites.map((s) => [s.site, s.bundle, s.runs]),
        ))
          out(l);
        out(
          `The old credentials lapse after credentialGraceDays; to retire them sooner once every site runs the new bundle: pulumi config set applianceCertificateRetirePrevious true -s ${stack}, pulumi up, then set it back to false.`,
        );
        return EXIT.ok;
      }),
    );
}
