// CLI room: `relaykit-appliance run [--config FILE]` starts the appliance and runs until SIGTERM or
// SIGINT, then drains. Without a config it runs the embedded default (loopback SMTP on 2525, capture
// route). Owns the process's signal handlers while it runs.
import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { startAppliance as StartAppliance } from '../app.ts';
import { isRelayError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { readyStatus, ServiceNotifier } from '../ops/service-notify.ts';
import type { SyslogSender } from '../ops/syslog/sender.ts';
import { version } from '../version.ts';
import { loadCheckedConfig, riskyWarnings } from './check.ts';
import { type CliContext, configOption } from './command-kit.ts';
import { type CliIo, println } from './io.ts';
import { waitForFile } from './wait-file.ts';

export function registerRun(program: Command, cli: CliContext): void {
  program
    .command('run')
    .description('start the appliance; SIGTERM or SIGINT drains deliveries and exits')
    .addOption(configOption('config file (without one: the embedded default, SMTP on 127.0.0.1:2525)'))
    .addOption(
      new Option(
        '--wait-for <file>',
        'load the appliance, then wait until FILE exists before reading the config (the VM: written by relaykit-firstboot)',
      ),
    )
    .action(cli.action(async (opts: { config?: string; waitFor?: string }) => runAppliance(opts, cli.io)));
}

async function runAppliance(opts: { config?: string; waitFor?: string }, io: CliIo): Promise<number> {
  if (opts.waitFor !== undefined) {
    // The appliance's code loads while the step that writes the config runs; a module that cannot
    // load fails here as it would below.
    await import('../app.ts');
    if (!existsSync(opts.waitFor)) {
      println(io.stderr, `relaykit-appliance: waiting for ${opts.waitFor} before reading the config`);
      await waitForFile(opts.waitFor);
    }
  }
  // The same proofs as `check` (ports included): refuse with the same lines, never half-start.
  const { config, source } = await loadCheckedConfig(opts);
  let syslog: SyslogSender | undefined;
  if (config.syslog !== undefined) {
    // Loaded only when configured; it reads syslog.tls.ca now, so a bad file refuses the start.
    const { SyslogSender } = await import('../ops/syslog/sender.ts');
    syslog = new SyslogSender({ config: config.syslog, hostname: config.appliance.hostname, version });
  }
  const logger = createLogger({ level: config.log.level, ...(syslog ? { forward: syslog } : {}) });
  syslog?.attach(logger);
  for (const w of riskyWarnings(config)) logger.warn({ warning: w }, 'config: risky setting');
  let appliance: Awaited<ReturnType<typeof StartAppliance>>;
  try {
    // Loaded here, not at the top: the transports' SDKs are heavy and no other command needs them.
    const { startAppliance } = await import('../app.ts');
    appliance = await startAppliance(config, { logger, ...(syslog ? { syslog } : {}) });
  } catch (err) {
    const code = isRelayError(err) ? err.code : (err as NodeJS.ErrnoException).code;
    logger.fatal({ code, reason: (err as Error).message }, 'appliance failed to start');
    println(
      io.stderr,
      `relaykit-appliance: cannot start: ${code ? `${code}: ` : ''}${(err as Error).message}`,
    );
    await syslog?.close(1000);
    logger.flush();
    return 1;
  }
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
        `Status page: http://${config.http.address}:${appliance.httpPort}/  health: /healthz  metrics: /metrics  status: /status`,
      );
    }
    const admin = appliance.adminSurface;
    if (admin) {
      println(io.stderr, `Admin page (login): ${admin.url}`);
      println(io.stderr, `  its certificate's SHA-256 fingerprint: ${admin.tls.fingerprint}`);
    }
  }
  // Under systemd (the VM's relaykit.service, Type=notify): ready once the signal handlers below are
  // in place, then a watchdog while the relay is alive. Elsewhere NOTIFY_SOCKET is unset: a no-op.
  const notifier = new ServiceNotifier({ env: process.env, pid: process.pid, logger });
  return new Promise<number>((resolve) => {
    let signalled = false;
    const stop = (signal: string) => {
      // Ctrl-C under `npm start` arrives twice (the terminal's and npm's forwarded copy): the handler
      // stays installed so a repeat cannot kill the process mid-drain.
      if (signalled) {
        logger.info({ signal }, 'already stopping');
        return;
      }
      signalled = true;
      logger.info({ signal }, 'stopping: draining deliveries');
      void notifier.stopping('draining deliveries');
      appliance.stop().then(
        async ({ drained }) => {
          logger.info({ drained }, 'stopped');
          // The last lines (the drain included) get a moment to reach the collector.
          await syslog?.close(2000);
          logger.flush();
          resolve(0);
        },
        async (err: unknown) => {
          logger.error({ err }, 'stop failed');
          await syslog?.close(2000);
          logger.flush();
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // Only now, with the handlers in place: whoever waits for this line (a supervisor, a test, a
    // person about to press Ctrl-C) may signal at once, and a signal before the handlers would kill
    // the relay undrained (the default action), not stop it.
    logger.info(
      { config: source, listeners: appliance.listeners, http: appliance.httpPort },
      'appliance started',
    );
    if (notifier.enabled) {
      const admin = appliance.adminSurface;
      void notifier.ready(
        readyStatus(appliance.listeners, admin && { url: admin.url, fingerprint: admin.tls.fingerprint }),
      );
      notifier.startWatchdog(() => appliance.healthModel.liveness().ok);
    }
  });
}
