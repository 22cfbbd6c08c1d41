// CLI room: `relaykit-appliance check [--config FILE]` validates a config without starting anything
// and warns about settings that are legal but risky. Exit 0 when valid, 1 when not.
import type { Command } from 'commander';
import { isLegacyTls } from '../config/listener.ts';
import type { Config } from '../config/schema.ts';
import { describeAdminTls } from '../ops/admin/tls.ts';
import { routingWarnings } from '../routing/warnings.ts';
import { type CliContext, configOption, loadCommandConfig } from './command-kit.ts';
import { println } from './io.ts';

const LOOPBACK = /^(127\.|::1$)/;

/** Legal but risky settings, one sentence each, naming the key. */
export function riskyWarnings(config: Config): string[] {
  const out: string[] = [];
  config.listeners.forEach((l, i) => {
    if (l.auth && l.allowCleartextAuth && !LOOPBACK.test(l.address)) {
      out.push(
        `listeners[${i}] (${l.name}): allowCleartextAuth on ${l.address} sends passwords in clear text over the network`,
      );
    }
  });
  config.listeners.forEach((l, i) => {
    if (l.tls.mode !== 'none' && isLegacyTls(l.tls.minVersion)) {
      out.push(
        `listeners[${i}] (${l.name}): tls.minVersion ${l.tls.minVersion} accepts legacy TLS with OpenSSL security level 0; use it only for devices that cannot do TLS 1.2, on an isolated network`,
      );
    }
    if (l.tls.clientCertificates && !config.identities.some((id) => id.certificates.length > 0)) {
      out.push(
        `listeners[${i}] (${l.name}): tls.clientCertificates is set but no identity lists certificates, so every client certificate is refused`,
      );
    }
  });
  if (config.http.enabled && !LOOPBACK.test(config.http.address)) {
    out.push(
      `http.address ${config.http.address}: the status port's queue API has no login, so off loopback only /healthz, /metrics and /status answer other hosts (the page and queue API stay loopback-only); use admin.listener for the LAN`,
    );
  }
  const admin = config.admin.listener;
  if (admin && LOOPBACK.test(admin.address)) {
    out.push(
      `admin.listener.address ${admin.address} is loopback: the status port already serves the page there`,
    );
  }
  config.identities.forEach((id, i) => {
    for (const n of id.networks) {
      if (n === '0.0.0.0/0' || n === '::/0' || /\/0$/.test(n)) {
        out.push(
          `identities[${i}] (${id.name}): network ${n} lets every address on the Internet send without a password`,
        );
      }
    }
  });
  return out;
}

export function registerCheck(program: Command, cli: CliContext): void {
  program
    .command('check')
    .description('validate a config file (exit 0/1) and warn about risky settings')
    .addOption(configOption('config file to check'))
    .action(
      cli.action(async (opts: { config?: string }) => {
        const { config, source } = loadCommandConfig(opts);
        for (const w of [...riskyWarnings(config), ...routingWarnings(config)])
          println(cli.io.stderr, `warning: ${w}`);
        const n = config.identities.length;
        println(
          cli.io.stdout,
          `ok: ${source} is valid (${config.listeners.length} listener(s), ${n} identit${n === 1 ? 'y' : 'ies'}, ${config.routes.length} route(s))`,
        );
        if (config.admin.listener) println(cli.io.stdout, describeAdminTls(config.admin.listener));
        return 0;
      }),
    );
}
