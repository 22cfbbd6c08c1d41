// CLI room: `relaykit-appliance route explain`. Loads a config, routes one made-up message with the
// same compiled rules and router the receiver uses, and prints the decision per recipient group.
// Reads only the config file; writes only to the given streams.
import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { parseSize } from '../config/units.ts';
import { AccessMap } from '../receiver/access.ts';
import { formatExplanation, formatRejection } from '../routing/explain.ts';
import { loadHeaderDecoder } from '../routing/patterns.ts';
import type { RouteInput } from '../routing/router.ts';
import { compileRules } from '../routing/rules.ts';
import { type CliContext, configOption, configPath, EXIT, UsageError } from './command-kit.ts';
import { deliveryTokens, explainFully } from './explain-checks.ts';
import { println } from './io.ts';

const HELP_AFTER = `
  Applied as the running appliance does: the identity's sender policy (allowedSenders, rewriteSender,
  recipient domains, size and recipient caps) at MAIL, RCPT and end of DATA; the rules; whether the
  route or a fallback can carry the size; the mailbox a Graph route sends as.
  --to repeats or takes a comma-separated list; --from "<>" (or "") is the null sender.
  Without --identity, the identity comes from --auth-user, else from --source-ip (as the receiver
  finds it); without any, identity conditions cannot hold.

Exit status: 0 every recipient routed, 3 some recipient refused, 2 a usage error, 1 bad config.`;

/**
 * The answer "the appliance would refuse a recipient": its own status, so a script can tell it from a
 * usage error (2) and an unreadable config (1), as grep tells "no match" (1) from trouble (2).
 */
export const EXIT_REFUSED = 3;

function stripBrackets(address: string): string {
  const a = address.trim();
  if (a === '<>') return '';
  return a.startsWith('<') && a.endsWith('>') ? a.slice(1, -1) : a;
}

function parseSizeArg(text: string, option = '--size'): number {
  if (/^\d+$/.test(text)) return Number(text);
  try {
    return parseSize(text);
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

function parseHeader(text: string): { name: string; value: string } {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  if (name === '' || /[\s]/.test(name)) {
    throw new UsageError(`--header "${text}": use NAME:VALUE, e.g. "Subject: Scan from MFD"`);
  }
  return { name, value: text.slice(colon + 1).trim() };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

interface ExplainOpts {
  config?: string;
  listener?: string;
  bodySize?: string;
  from?: string;
  to?: string[];
  size?: string;
  header?: string[];
  identity?: string;
  sourceIp?: string;
  authUser?: string;
  json?: boolean;
}

export function registerRoute(program: Command, cli: CliContext): void {
  const route = program.command('route').description('ask the router what it would do');
  route
    .command('explain')
    .description(
      "route one made-up message with the receiver's rules and print, per recipient group, the route or rejection and why",
    )
    .usage('--config FILE --from ADDRESS --to ADDRESS [--to ADDRESS ...] [options]')
    .addOption(configOption('config file (required)'))
    .addOption(new Option('--from <address>', 'MAIL FROM address; "<>" or "" for the null sender'))
    .addOption(
      new Option('--to <address>', 'recipient; repeat it or separate with commas').argParser(collect),
    )
    .addOption(new Option('--size <size>', 'message size: bytes (12000) or with a unit (12MB); default 0'))
    .addOption(
      new Option(
        '--header <name:value>',
        'a header field, e.g. "Subject: Scan from MFD"; repeatable',
      ).argParser(collect),
    )
    .addOption(new Option('--identity <name>', 'identity the message arrived as (a name under identities:)'))
    .addOption(new Option('--source-ip <ip>', 'client address'))
    .addOption(new Option('--auth-user <user>', 'SMTP AUTH user name, when the client authenticated'))
    .addOption(
      new Option(
        '--listener <name>',
        "listener it arrives on, whose caps bound the identity's (default: the first)",
      ),
    )
    .addOption(
      new Option(
        '--body-size <size>',
        "decoded text/HTML body size, for Graph's body limit (default: not checked)",
      ),
    )
    .addOption(new Option('--json', 'print the decision as JSON'))
    .addHelpText('after', HELP_AFTER)
    .action(cli.action(async (opts: ExplainOpts) => explain(opts, cli)));
}

async function explain(values: ExplainOpts, cli: CliContext): Promise<number> {
  const { stdout, stderr } = cli.io;
  const file = configPath(values);
  if (file === undefined) throw new UsageError('--config FILE is required');
  if (values.from === undefined) throw new UsageError('--from ADDRESS is required');
  const recipients = (values.to ?? [])
    .flatMap((t) => t.split(','))
    .map(stripBrackets)
    .filter((t) => t !== '');
  if (recipients.length === 0) throw new UsageError('--to ADDRESS is required');
  const size = values.size === undefined ? 0 : parseSizeArg(values.size);
  const headers = (values.header ?? []).map(parseHeader);
  const { config } = loadConfig(file);
  const identity = resolveIdentity(config, values, (note) => println(stderr, `note: ${note}`));
  const input: RouteInput = {
    identity,
    sourceIp: values.sourceIp ?? '',
    ...(values.authUser === undefined ? {} : { authUser: values.authUser }),
    mailFrom: stripBrackets(values.from),
    recipients,
    size,
    headers,
  };
  const listener =
    values.listener === undefined ? undefined : config.listeners.find((l) => l.name === values.listener);
  if (values.listener !== undefined && listener === undefined) {
    throw new UsageError(
      `--listener: no listener named "${values.listener}" (listeners: ${config.listeners.map((l) => l.name).join(', ')})`,
    );
  }
  await loadHeaderDecoder();
  const full = explainFully(config, compileRules(config), input, {
    ...(listener ? { listener } : {}),
    ...(values.bodySize === undefined ? {} : { bodySize: parseSizeArg(values.bodySize, '--body-size') }),
  });
  const { routing, deliveries, refusals } = full;
  if (values.json) {
    const legs = routing.legs.map((leg, i) => ({ ...leg, ...deliveries[i] }));
    const rejections = [...routing.rejections, ...refusals];
    println(
      stdout,
      JSON.stringify({ mailFrom: full.mailFrom, listener: full.listener, legs, rejections }, null, 2),
    );
  } else {
    const lines = formatExplanation(routing, (leg, i) => deliveryTokens(deliveries[i], leg.route));
    for (const line of [...lines, ...refusals.map(formatRejection)]) println(stdout, line);
  }
  return routing.rejections.length + refusals.length > 0 ? EXIT_REFUSED : EXIT.ok;
}

/**
 * The identity the receiver would give this client: --identity as given; else the AUTH user's
 * identity (a login decides, as in the receiver); else the first identity whose networks hold
 * --source-ip. Without any, identity conditions cannot hold.
 */
function resolveIdentity(
  config: Config,
  values: Pick<ExplainOpts, 'identity' | 'authUser' | 'sourceIp'>,
  note: (text: string) => void,
): string {
  const names = config.identities.map((i) => i.name);
  if (values.identity !== undefined) {
    if (!names.includes(values.identity)) {
      throw new UsageError(
        `--identity: no identity named "${values.identity}" (identities: ${names.join(', ')})`,
      );
    }
    return values.identity;
  }
  const user = values.authUser;
  const byUser =
    user === undefined ? undefined : config.identities.find((i) => i.users.some((u) => u.username === user));
  if (byUser) {
    note(`identity "${byUser.name}" from --auth-user ${user}`);
    return byUser.name;
  }
  const ip = values.sourceIp;
  const byIp = ip === undefined ? undefined : new AccessMap(config).byAddress(ip);
  if (byIp) {
    note(`identity "${byIp.name}" from --source-ip ${ip}`);
    return byIp.name;
  }
  note('no identity (give --identity, --source-ip or --auth-user); identity conditions cannot hold');
  return '';
}
