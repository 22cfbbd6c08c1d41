// `relaykit-appliance run [--config FILE]`: starts the appliance and runs until SIGTERM/SIGINT, then
// drains. Without --config it runs the embedded default (loopback SMTP on 2525, capture route).
import { parseArgs } from 'node:util';
import { startAppliance } from '../app.ts';
import { loadConfig } from '../config/load.ts';
import { isRelayError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { riskyWarnings } from './check.ts';
import { type CliIo, println } from './io.ts';

export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(values.config ?? process.env.RELAYKIT_CONFIG);
  } catch (err) {
    println(io.stderr, isRelayError(err) ? `${err.code}: ${err.message}` : String(err));
    return 1;
  }
  const { config, source } = loaded;
  const logger = createLogger({ level: config.log.level });
  for (const w of riskyWarnings(config)) logger.warn({ warning: w }, 'config: risky setting');
  let appliance: Awaited<ReturnType<typeof startAppliance>>;
  try {
    appliance = await startAppliance(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'appliance failed to start');
    println(io.stderr, `relaykit-appliance: cannot start: ${(err as Error).message}`);
    logger.flush();
    return 1;
  }
  logger.info(
    { config: source, listeners: appliance.listeners, http: appliance.httpPort },
    'appliance started',
  );
  const first = appliance.listeners[0];
  if (first) {
    const capture = config.routes.find((r) => r.type === 'capture');
    println(io.stderr, `relaykit appliance is running (${source}).`);
    println(io.stderr, 'Send a test mail with:');
    println(
      io.stderr,
      `  swaks --server ${first.address}:${first.port} --from scanner@example.com --to you@example.com --header 'Subject: relaykit test'`,
    );
    if (capture && 'directory' in capture)
      println(io.stderr, `Captured messages appear in ${capture.directory}/`);
    if (appliance.httpPort !== undefined) {
      println(
        io.stderr,
        `Health: http://${config.http.address}:${appliance.httpPort}/healthz  metrics: /metrics  status: /status`,
      );
    }
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const stop = (signal: string) => {
      if (signalled) return;
      signalled = true;
      logger.info({ signal }, 'stopping: draining deliveries');
      appliance.stop().then(
        ({ drained }) => {
          logger.info({ drained }, 'stopped');
          logger.flush();
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          logger.flush();
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
