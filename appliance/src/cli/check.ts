// CLI room: `relaykit-appliance check [--config FILE] [--online]` validates a config without starting
// anything: the schema, then everything the config names that can be proven offline (files, keys,
// credential references, directories, free space, ports; ops/preflight), and with --online the
// credentials and reachability of each route without sending mail. Warns about settings that are
// legal but risky. Exit 0 when valid, 1 when not.
import type { Command } from 'commander';
import { isLegacyTls } from '../config/listener.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { silentLogger } from '../log.ts';
import { describeAdminTls } from '../ops/admin/tls.ts';
import { PreflightError, preflight } from '../ops/preflight/index.ts';
import { routingWarnings } from '../routing/warnings.ts';
import { type CliContext, configOption, loadCommandConfig, PROGRAM } from './command-kit.ts';
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

/**
 * The command's config (--config, $RELAYKIT_CONFIG, or the embedded default), parsed and proven offline.
 * Throws ConfigError (schema) or PreflightError (the world does not match), each naming every key.
 * `run` calls this too, so both refuse with the same lines.
 */
export async function loadCheckedConfig(
  opts: { config?: string },
  proofs: { ports?: boolean } = {},
): Promise<LoadedConfig> {
  const loaded = loadCommandConfig(opts);
  const issues = await preflight(loaded.config, proofs);
  if (issues.length > 0) throw new PreflightError(loaded.source, issues);
  return loaded;
}

/** `check --online`: one line per route on stdout (ok) or stderr (failed, with code and hint). */
async function printOnlineChecks(config: Config, cli: CliContext): Promise<number> {
  let failed = 0;
  // Loaded only for --online: it brings the token and Key Vault SDKs.
  const { onlineChecks } = await import('../ops/preflight/online.ts');
  for (const r of await onlineChecks(config, { logger: silentLogger() })) {
    const key = `routes[${config.routes.findIndex((x) => x.name === r.route)}] (${r.route}, ${r.type})`;
    if (r.ok) println(cli.io.stdout, `online: ${key}: ${r.detail}`);
    else {
      failed++;
      println(
        cli.io.stderr,
        `${PROGRAM}: ${key} failed online: ${r.code ? `${r.code}: ` : ''}${r.detail}${r.hint ? `\n  hint: ${r.hint}` : ''}`,
      );
    }
  }
  return failed;
}

export function registerCheck(program: Command, cli: CliContext): void {
  program
    .command('check')
    .description(
      'validate a config file and what it names (files, credentials, directories, ports); exit 0/1',
    )
    .addOption(configOption('config file to check'))
    .option('--schema-only', "validate the file's shape only (a template away from its appliance)")
    .option(
      '--online',
      'also prove each route: a token, a harmless authenticated call, SMTP EHLO/STARTTLS/AUTH (sends no mail)',
    )
    .action(
      cli.action(async (opts: { config?: string; online?: boolean; schemaOnly?: boolean }) => {
        const { config, source } = opts.schemaOnly ? loadCommandConfig(opts) : await loadCheckedConfig(opts);
        for (const w of [...riskyWarnings(config), ...routingWarnings(config)])
          println(cli.io.stderr, `warning: ${w}`);
        if (opts.online) {
          const failed = await printOnlineChecks(config, cli);
          if (failed > 0) return 1;
        }
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
