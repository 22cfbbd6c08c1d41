// CLI room: `relaykit-appliance queue handoff --to HOST:PORT`, the scale-down step of issue 19: a
// stopped relay's queued messages go to a peer by SMTP, each removed here only after the peer's 250
// (ops/handoff.ts). Refuses while this relay answers on its status port: its delivery engine would
// be sending the same entries.

import { hostname } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import { silentLogger } from '../log.ts';
import { handoffQueue } from '../ops/handoff.ts';
import { Spool } from '../spool/spool.ts';
import {
  type CliContext,
  configOption,
  EXIT,
  jsonOption,
  loadCommandConfig,
  UsageError,
} from './command-kit.ts';
import { println } from './io.ts';

/** "host:port" or "[v6]:port". */
export function parsePeer(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new UsageError(`--to must be HOST:PORT, got "${text}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

async function relayAnswers(address: string, port: number): Promise<boolean> {
  const host = address.includes(':') ? `[${address}]` : address;
  try {
    await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}

export function addHandoff(queue: Command, cli: CliContext): void {
  queue
    .command('handoff')
    .description(
      "resend every queued message to a peer relay by SMTP (stop this relay first); each is removed only after the peer's 250",
    )
    .option('--to <host:port>', 'the peer relay SMTP listener, e.g. relaykit-0.relaykit:25')
    .addOption(new Option('--timeout <seconds>', 'connect/greeting/idle timeout per message').default('30'))
    .addOption(new Option('--no-verify-tls', "accept the peer's STARTTLS certificate without verifying it"))
    .addOption(configOption())
    .addOption(jsonOption())
    .action(
      cli.action(
        async (opts: {
          to: string;
          timeout: string;
          verifyTls: boolean;
          config?: string;
          json?: boolean;
        }) => {
          if (opts.to === undefined) throw new UsageError('--to HOST:PORT is required');
          const peer = parsePeer(opts.to);
          const timeoutMs = Number(opts.timeout) * 1000;
          if (!(timeoutMs > 0))
            throw new UsageError(`--timeout must be a positive number of seconds, got "${opts.timeout}"`);
          const { config } = loadCommandConfig(opts);
          if (config.http.enabled && (await relayAnswers(config.http.address, config.http.port))) {
            println(
              cli.io.stderr,
              'relaykit-appliance: the relay is running (its status port answers); stop it before a handoff',
            );
            return EXIT.failed;
          }
          const spool = await Spool.open(config.spool.directory, silentLogger());
          try {
            const results = await handoffQueue(
              spool,
              {
                ...peer,
                name: config.appliance.hostname ?? hostname(),
                verifyTls: opts.verifyTls,
                timeoutMs,
              },
              (o) => {
                if (!opts.json)
                  println(cli.io.stdout, `${o.ok ? 'handed off' : 'kept'}  ${o.id}  ${o.reply}`);
              },
            );
            const kept = results.filter((r) => !r.ok).length;
            if (opts.json) println(cli.io.stdout, JSON.stringify({ to: opts.to, results }));
            else println(cli.io.stdout, `${results.length - kept} handed off, ${kept} kept`);
            return kept === 0 ? EXIT.ok : EXIT.failed;
          } finally {
            await spool.close();
          }
        },
      ),
    );
}
