// `relaykit-appliance health [--config FILE] [--endpoint PATH]`: asks the running appliance's status
// server, at the address and port its config names, whether it is healthy. Exit 0 on HTTP 200, 1
// otherwise, with one line saying why. The container HEALTHCHECK and scripts use it, so no probe
// hard-codes a port. The status server binds 0.0.0.0/:: when told to; the probe then asks loopback.
import { type Command, Option } from 'commander';
import type { Config } from '../config/schema.ts';
import { localStatusHost } from '../ops/keepalived-conf.ts';
import { type CliContext, configOption, EXIT, loadCommandConfig, UsageError } from './command-kit.ts';
import { println } from './io.ts';

/** The URL the probe asks: the configured status address (a wildcard means loopback) and port. */
export function healthUrl(http: Config['http'], endpoint: string): string {
  let host = localStatusHost(http.address);
  if (host.includes(':')) host = `[${host}]`;
  return `http://${host}:${http.port}${endpoint.startsWith('/') ? endpoint : `/${endpoint}`}`;
}

export function registerHealth(program: Command, cli: CliContext): void {
  program
    .command('health')
    .description("ask the running appliance's status server (exit 0 when it answers 200)")
    .addOption(configOption('config file of the running appliance'))
    .addOption(new Option('--endpoint <path>', 'status path to ask').default('/healthz'))
    .addOption(new Option('--timeout-ms <ms>', 'give up after this many milliseconds').default('4000'))
    .action(
      cli.action(async (opts: { config?: string; endpoint: string; timeoutMs: string }) => {
        const timeout = Number(opts.timeoutMs);
        if (!Number.isInteger(timeout) || timeout <= 0) {
          throw new UsageError(`--timeout-ms must be a positive whole number, got "${opts.timeoutMs}"`);
        }
        const { config } = loadCommandConfig(opts);
        if (!config.http.enabled) {
          println(cli.io.stderr, 'health: http.enabled is false, so there is no status server to ask');
          return EXIT.failed;
        }
        const url = healthUrl(config.http, opts.endpoint);
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
          await res.body?.cancel();
          println(
            res.status === 200 ? cli.io.stdout : cli.io.stderr,
            `health: ${url} answered ${res.status}`,
          );
          return res.status === 200 ? EXIT.ok : EXIT.failed;
        } catch (err) {
          const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
          println(cli.io.stderr, `health: ${url} did not answer (${cause})`);
          return EXIT.failed;
        }
      }),
    );
}
