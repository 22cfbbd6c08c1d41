// Operator CLI: `relaykit-appliance route explain`. Loads a config, routes one made-up message with
// the same compiled rules and router the receiver uses, and prints the decision per recipient group.
// Reads only the config file; writes only to the given streams.
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { parseSize } from '../config/units.ts';
import { isRelayError } from '../errors.ts';
import { AccessMap } from '../receiver/access.ts';
import { explainExitCode, explainRoute, formatExplanation } from '../routing/explain.ts';
import type { RouteInput } from '../routing/router.ts';
import { compileRules } from '../routing/rules.ts';

export const ROUTE_EXPLAIN_USAGE = `usage: relaykit-appliance route explain --config FILE --from ADDRESS --to ADDRESS [--to ADDRESS ...]
       [--size N] [--header NAME:VALUE ...] [--identity NAME] [--source-ip IP] [--auth-user USER] [--json]

  --from        MAIL FROM address; "<>" or "" for the null sender
  --to          recipient; repeat it or separate with commas
  --size        message size: bytes (12000) or with a unit (12MB); default 0
  --header      a header field of the message, e.g. "Subject: Scan from MFD"; repeatable
  --identity    identity the message arrived as (a name under identities:)
  --source-ip   client address
  --auth-user   SMTP AUTH user name, when the client authenticated
  --json        print the decision as JSON

Exit status: 0 every recipient routed, 2 some recipient rejected, 1 bad input.`;

class UsageError extends Error {}

function stripBrackets(address: string): string {
  const a = address.trim();
  if (a === '<>') return '';
  return a.startsWith('<') && a.endsWith('>') ? a.slice(1, -1) : a;
}

function parseSizeArg(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  try {
    return parseSize(text);
  } catch (err) {
    throw new UsageError(`--size: ${(err as Error).message}`);
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

export async function routeExplainCommand(
  argv: string[],
  io: { stdout: Writable; stderr: Writable },
): Promise<number> {
  const err = (text: string) => io.stderr.write(`${text}\n`);
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    err(`route explain: ${(e as Error).message}\n${ROUTE_EXPLAIN_USAGE}`);
    return 1;
  }
  if (values.help) {
    io.stdout.write(`${ROUTE_EXPLAIN_USAGE}\n`);
    return 0;
  }
  try {
    if (values.config === undefined) throw new UsageError('--config FILE is required');
    if (values.from === undefined) throw new UsageError('--from ADDRESS is required');
    const recipients = (values.to ?? [])
      .flatMap((t) => t.split(','))
      .map(stripBrackets)
      .filter((t) => t !== '');
    if (recipients.length === 0) throw new UsageError('--to ADDRESS is required');
    const { config } = loadConfig(values.config);
    const identity = resolveIdentity(config, values, (note) => err(`note: ${note}`));
    const input: RouteInput = {
      identity,
      sourceIp: values['source-ip'] ?? '',
      ...(values['auth-user'] === undefined ? {} : { authUser: values['auth-user'] }),
      mailFrom: stripBrackets(values.from),
      recipients,
      size: values.size === undefined ? 0 : parseSizeArg(values.size),
      headers: (values.header ?? []).map(parseHeader),
    };
    const explanation = explainRoute(compileRules(config), input);
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ legs: explanation.legs, rejections: explanation.rejections }, null, 2)}\n`,
      );
    } else {
      for (const line of formatExplanation(explanation)) io.stdout.write(`${line}\n`);
    }
    return explainExitCode(explanation);
  } catch (e) {
    if (e instanceof UsageError) err(`route explain: ${e.message}\n${ROUTE_EXPLAIN_USAGE}`);
    else if (e instanceof ConfigError || isRelayError(e)) err(`route explain: ${e.message}`);
    else throw e;
    return 1;
  }
}

/** `route <subcommand>`: only `explain` exists. */
export async function routeCommand(
  argv: string[],
  io: { stdout: Writable; stderr: Writable },
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'explain') return routeExplainCommand(rest, io);
  io.stderr.write(
    `route: unknown subcommand ${sub === undefined ? '(none)' : `"${sub}"`}\n${ROUTE_EXPLAIN_USAGE}\n`,
  );
  return 1;
}

/**
 * The identity the receiver would give this client: --identity as given; else the AUTH user's
 * identity (a login decides, as in the receiver); else the first identity whose networks hold
 * --source-ip. Without any, identity conditions cannot hold.
 */
function resolveIdentity(
  config: Config,
  values: {
    identity?: string | undefined;
    'auth-user'?: string | undefined;
    'source-ip'?: string | undefined;
  },
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
  const user = values['auth-user'];
  const byUser =
    user === undefined ? undefined : config.identities.find((i) => i.users.some((u) => u.username === user));
  if (byUser) {
    note(`identity "${byUser.name}" from --auth-user ${user}`);
    return byUser.name;
  }
  const ip = values['source-ip'];
  const byIp = ip === undefined ? undefined : new AccessMap(config).byAddress(ip);
  if (byIp) {
    note(`identity "${byIp.name}" from --source-ip ${ip}`);
    return byIp.name;
  }
  note('no identity (give --identity, --source-ip or --auth-user); identity conditions cannot hold');
  return '';
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string', short: 'c' },
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      size: { type: 'string' },
      header: { type: 'string', multiple: true },
      identity: { type: 'string' },
      'source-ip': { type: 'string' },
      'auth-user': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
