// `relaykit-appliance test-route --route R --to ADDR`: sends one real test message through one route,
// with the same pre-flight as the page's "send a test message" (ops/test-route.ts), and prints each
// step — token, request, remote id — or the step that failed with its hint. Builds the route's own
// transport from the config, so it works whether or not the appliance is running; nothing is spooled.
import { type Command, Option } from 'commander';
import { createTokenSources } from '../auth/index.ts';
import { resolveCloud } from '../config/cloud.ts';
import { createCredentialStore } from '../credentials/index.ts';
import { createTransport } from '../delivery/registry.ts';
import { silentLogger } from '../log.ts';
import { createCloudHttp } from '../net/cloud-fetch.ts';
import { type TestRouteReport, testRoute } from '../ops/test-route.ts';
import {
  type CliContext,
  configOption,
  EXIT,
  jsonOption,
  loadCommandConfig,
  UsageError,
} from './command-kit.ts';
import { println } from './io.ts';

interface TestRouteOpts {
  config?: string;
  route?: string;
  to?: string;
  from?: string;
  json?: boolean;
}

export function formatReport(r: TestRouteReport): string[] {
  const lines = [`test message through route ${r.route} (${r.type}) from <${r.from}> to <${r.to}>`];
  for (const s of r.steps) {
    lines.push(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step}: ${s.detail}${s.code ? ` (${s.code})` : ''}`);
    if (s.hint) lines.push(`       fix: ${s.hint}`);
  }
  lines.push(r.ok ? 'ok: the route accepted the test message' : 'failed: see the step above');
  return lines;
}

export function registerTestRoute(program: Command, cli: CliContext): void {
  program
    .command('test-route')
    .description('send one test message through a route and report each step (token, request, remote id)')
    .usage('--route NAME --to ADDRESS [--from ADDRESS] [--config FILE] [--json]')
    .addOption(configOption())
    .addOption(new Option('--route <name>', 'route to test (a name under routes:)'))
    .addOption(new Option('--to <address>', 'recipient of the test message'))
    .addOption(
      new Option('--from <address>', "sender; default: the route's mailbox or relaykit-test@<hostname>"),
    )
    .addOption(jsonOption())
    .action(cli.action(async (opts: TestRouteOpts) => run(opts, cli)));
}

async function run(opts: TestRouteOpts, cli: CliContext): Promise<number> {
  if (opts.route === undefined) throw new UsageError('--route NAME is required');
  if (opts.to === undefined || !/^[^\s@<>]+@[^\s@<>]+$/.test(opts.to))
    throw new UsageError('--to ADDRESS is required (an e-mail address)');
  const { config } = loadCommandConfig(opts);
  const route = config.routes.find((r) => r.name === opts.route);
  if (!route)
    throw new UsageError(`no route "${opts.route}" (routes: ${config.routes.map((r) => r.name).join(', ')})`);
  const logger = silentLogger();
  const cloudHttp = createCloudHttp(config.cloud);
  const credentials = createCredentialStore(config, { logger, cloudHttp });
  const tokens = createTokenSources(config, { logger, credentials, fetch: cloudHttp.fetch });
  const cloud = resolveCloud(config.cloud);
  const transport = await createTransport(route, {
    logger,
    credentials,
    tokens,
    fetch: cloudHttp.fetch,
    now: Date.now,
    cloud,
  });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const report = await testRoute(
      route,
      opts.to,
      {
        transport,
        tokens,
        credentials,
        cloud,
        hostname: config.appliance.hostname,
        now: Date.now,
        signal: abort.signal,
      },
      opts.from,
    );
    if (opts.json) println(cli.io.stdout, JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) println(report.ok ? cli.io.stdout : cli.io.stderr, line);
    return report.ok ? EXIT.ok : EXIT.failed;
  } finally {
    process.off('SIGINT', onSigint);
    await transport.close?.();
    await credentials.close?.();
    await cloudHttp.close();
  }
}
