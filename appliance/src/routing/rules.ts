// Routing room: compiles the validated rule config once at start into matchers (parsed address
// patterns, lower-cased globs, a BlockList per source-network condition). Pure apart from building
// those in-memory structures; reads nothing but the Config it is given.
import { BlockList, isIP } from 'node:net';
import { DEFAULT_RULE_NAME, type RuleConfig } from '../config/rules.ts';
import type { Config } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import {
  type AddressPattern,
  decodeHeaderValue,
  globMatch,
  matchAddress,
  normalizeDomain,
  normalizeIp,
  parseAddressPattern,
  splitAddress,
} from './patterns.ts';

/**
 * When a condition's facts are known: `envelope` at MAIL FROM (identity, source, AUTH, sender),
 * `recipient` at each RCPT TO, `content` only after DATA (size, headers).
 */
export type ConditionPhase = 'envelope' | 'recipient' | 'content';

/** What the router knows about the message while it evaluates conditions. */
export interface MessageFacts {
  readonly identity: string;
  readonly sourceIp: string;
  readonly authUser: string | undefined;
  readonly mailFrom: string;
  /** Undefined before DATA. */
  readonly size: number | undefined;
  /** Lower-cased field name → values; undefined before DATA. */
  readonly headers: ReadonlyMap<string, readonly string[]> | undefined;
}

export interface CompiledCondition {
  /** The config key (identity, mailFrom, size, ...). */
  readonly key: string;
  readonly phase: ConditionPhase;
  /** Why the condition holds, in operator language, or undefined when it does not. */
  readonly test: (facts: MessageFacts, recipient: string) => string | undefined;
}

export type CompiledAction =
  | {
      readonly type: 'route';
      readonly route: string;
      readonly sendAs: string | undefined;
      readonly mailFrom: string | undefined;
    }
  | {
      readonly type: 'reject';
      readonly responseCode: number;
      readonly enhanced: string;
      readonly message: string;
    };

export interface CompiledRule {
  readonly name: string;
  /** Position in config `rules`; -1 for the default. */
  readonly index: number;
  readonly conditions: readonly CompiledCondition[];
  readonly action: CompiledAction;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  /** What every recipient no rule matched gets. */
  readonly defaultRule: CompiledRule;
  /** Route name → the fallback routes that take over in turn after a permanent failure. */
  readonly fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly acceptedDomains: readonly string[];
}

const q = (s: string) => JSON.stringify(s);

function firstMatch<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  for (const item of items) if (test(item)) return item;
  return undefined;
}

function compileAddressPatterns(list: readonly string[]): { text: string; pattern: AddressPattern }[] {
  return list.map((text) => {
    const pattern = parseAddressPattern(text);
    if (typeof pattern === 'string') throw new RelayError('RELAY_CONFIG_INVALID', pattern);
    return { text, pattern };
  });
}

function compileNetworks(list: readonly string[]): { text: string; block: BlockList }[] {
  return list.map((text) => {
    const [addr = '', bits] = text.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const block = new BlockList();
    if (bits === undefined) block.addAddress(addr, family);
    else block.addSubnet(addr, Number(bits), family);
    return { text, block };
  });
}

function compileConditions(
  match: RuleConfig['match'],
  acceptedDomains: readonly string[],
): CompiledCondition[] {
  const out: CompiledCondition[] = [];
  if (match.identity !== undefined) {
    const ids = match.identity;
    out.push({
      key: 'identity',
      phase: 'envelope',
      test: (f) => (ids.includes(f.identity) ? `identity is ${q(f.identity)}` : undefined),
    });
  }
  if (match.sourceNetwork !== undefined) {
    const nets = compileNetworks(match.sourceNetwork);
    out.push({
      key: 'sourceNetwork',
      phase: 'envelope',
      test: (f) => {
        const ip = normalizeIp(f.sourceIp);
        const family = isIP(ip);
        if (family === 0) return undefined;
        const hit = firstMatch(nets, (n) => n.block.check(ip, family === 6 ? 'ipv6' : 'ipv4'));
        return hit && `source ${ip} is in ${hit.text}`;
      },
    });
  }
  if (match.authenticated !== undefined) {
    const want = match.authenticated;
    out.push({
      key: 'authenticated',
      phase: 'envelope',
      test: (f) => {
        if ((f.authUser !== undefined) !== want) return undefined;
        return want ? `client authenticated as ${q(f.authUser ?? '')}` : 'client did not authenticate';
      },
    });
  }
  if (match.authUser !== undefined) {
    const globs = match.authUser.map((g) => ({ text: g, glob: g.toLowerCase() }));
    out.push({
      key: 'authUser',
      phase: 'envelope',
      test: (f) => {
        const user = f.authUser;
        if (user === undefined) return undefined;
        const hit = firstMatch(globs, (g) => globMatch(g.glob, user));
        return hit && `authenticated user ${q(user)} matches ${q(hit.text)}`;
      },
    });
  }
  if (match.mailFrom !== undefined) {
    const patterns = compileAddressPatterns(match.mailFrom);
    out.push({
      key: 'mailFrom',
      phase: 'envelope',
      test: (f) => {
        const hit = firstMatch(patterns, (p) => matchAddress(p.pattern, f.mailFrom));
        if (hit === undefined) return undefined;
        return hit.pattern.kind === 'null'
          ? 'MAIL FROM is the null sender <>'
          : `MAIL FROM ${q(f.mailFrom)} matches ${q(hit.text)}`;
      },
    });
  }
  if (match.recipient !== undefined) {
    const patterns = compileAddressPatterns(match.recipient);
    out.push({
      key: 'recipient',
      phase: 'recipient',
      test: (_f, rcpt) => {
        const hit = firstMatch(patterns, (p) => matchAddress(p.pattern, rcpt));
        return hit && `recipient ${q(rcpt)} matches ${q(hit.text)}`;
      },
    });
  }
  if (match.recipientDomain !== undefined) {
    const globs = match.recipientDomain.map((g) => ({ text: g, glob: normalizeDomain(g) }));
    out.push({
      key: 'recipientDomain',
      phase: 'recipient',
      test: (_f, rcpt) => {
        const { domain } = splitAddress(rcpt);
        if (domain === '') return undefined;
        const hit = firstMatch(globs, (g) => globMatch(g.glob, domain));
        return hit && `recipient domain ${q(domain)} matches ${q(hit.text)}`;
      },
    });
  }
  if (match.external !== undefined) {
    const want = match.external;
    const accepted = acceptedDomains.map((g) => ({ text: g, glob: normalizeDomain(g) }));
    out.push({
      key: 'external',
      phase: 'recipient',
      test: (_f, rcpt) => {
        const { domain } = splitAddress(rcpt);
        // A recipient without a domain ("postmaster") is addressed to this relay: never external.
        const hit = domain === '' ? undefined : firstMatch(accepted, (g) => globMatch(g.glob, domain));
        const external = domain !== '' && hit === undefined;
        if (external !== want) return undefined;
        if (external) return `recipient domain ${q(domain)} is external (not in acceptedDomains)`;
        return hit
          ? `recipient domain ${q(domain)} is internal (acceptedDomains ${q(hit.text)})`
          : `recipient ${q(rcpt)} has no domain (internal)`;
      },
    });
  }
  if (match.size !== undefined) {
    const { over, atMost } = match.size;
    out.push({
      key: 'size',
      phase: 'content',
      test: (f) => {
        const size = f.size;
        if (size === undefined) return undefined;
        if (over !== undefined && !(size > over)) return undefined;
        if (atMost !== undefined && !(size <= atMost)) return undefined;
        const parts = [
          ...(over === undefined ? [] : [`over ${over}`]),
          ...(atMost === undefined ? [] : [`at most ${atMost}`]),
        ];
        return `size ${size} bytes is ${parts.join(' and ')}`;
      },
    });
  }
  if (match.header !== undefined) {
    const fieldName = match.header.name;
    const lower = fieldName.toLowerCase();
    const globs = match.header.value.map((g) => ({ text: g, glob: g.toLowerCase() }));
    out.push({
      key: 'header',
      phase: 'content',
      test: (f) => {
        for (const raw of f.headers?.get(lower) ?? []) {
          // The decoded text is what a person reads; the raw text still matches for rules written
          // against it.
          const decoded = decodeHeaderValue(raw);
          for (const value of decoded === raw ? [raw] : [decoded, raw]) {
            const hit = firstMatch(globs, (g) => globMatch(g.glob, value));
            if (hit) return `header ${fieldName} ${q(value.slice(0, 80))} matches ${q(hit.text)}`;
          }
        }
        return undefined;
      },
    });
  }
  return out;
}

function compileAction(action: RuleConfig['action'], defaultRoute: string): CompiledAction {
  if (action.reject !== undefined) {
    return {
      type: 'reject',
      responseCode: action.reject.code,
      enhanced: action.reject.enhanced,
      message: action.reject.message,
    };
  }
  return {
    type: 'route',
    route: action.route ?? defaultRoute,
    sendAs: action.sendAs,
    mailFrom: action.rewriteSender,
  };
}

function fallbackChains(routes: Config['routes']): Map<string, string[]> {
  const byName = new Map(routes.map((r) => [r.name, r]));
  const chains = new Map<string, string[]>();
  for (const r of routes) {
    const chain: string[] = [];
    let next = r.fallback;
    while (next !== undefined && next !== r.name && !chain.includes(next) && byName.has(next)) {
      chain.push(next);
      next = byName.get(next)?.fallback;
    }
    chains.set(r.name, chain);
  }
  return chains;
}

/**
 * Compiles the rules of a validated config. Throws RELAY_CONFIG_REFERENCE when a rule or the default
 * names a route that does not exist (parseConfig already refuses such files; this guards hand-made
 * Config objects).
 */
export function compileRules(config: Config): CompiledRules {
  const routes = new Set(config.routes.map((r) => r.name));
  const needRoute = (route: string, where: string) => {
    if (!routes.has(route)) {
      throw new RelayError('RELAY_CONFIG_REFERENCE', `${where}: no route named "${route}"`);
    }
  };
  needRoute(config.defaultRoute, 'defaultRoute');
  const rules = config.rules.map((rule, index): CompiledRule => {
    const action = compileAction(rule.action, config.defaultRoute);
    if (action.type === 'route') needRoute(action.route, `rules[${index}].action.route`);
    return {
      name: rule.name,
      index,
      conditions: compileConditions(rule.match, config.acceptedDomains),
      action,
    };
  });
  return {
    rules,
    defaultRule: {
      name: DEFAULT_RULE_NAME,
      index: -1,
      conditions: [],
      action: { type: 'route', route: config.defaultRoute, sendAs: undefined, mailFrom: undefined },
    },
    fallbacks: fallbackChains(config.routes),
    acceptedDomains: config.acceptedDomains,
  };
}
