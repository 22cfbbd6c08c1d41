// Routing room: compiles the validated rule config once at start into matchers (parsed address
// patterns, lower-cased globs, CIDR ranges) over a message's prepared facts (message-facts.ts), so
// each rule check is a cheap compare. Pure; reads nothing but the Config and the input it is given.

import { cidrContains, type ParsedCidr, parseCidr } from '../config/networks.ts';
import { type AddressPattern, normalizeDomain, parseAddressPattern } from '../config/rule-patterns.ts';
import { DEFAULT_RULE_NAME, type RuleConfig } from '../config/rules.ts';
import type { Config } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import type { MessageFacts } from './message-facts.ts';
import { globMatchPrepared, matchPreparedAddress, type PreparedAddress } from './patterns.ts';

/**
 * When a condition's facts are known: `envelope` at MAIL FROM (identity, source, AUTH, sender),
 * `recipient` at each RCPT TO, `content` only after DATA (size, headers).
 */
export type ConditionPhase = 'envelope' | 'recipient' | 'content';

export interface CompiledCondition {
  /** The config key (identity, mailFrom, size, ...). */
  readonly key: string;
  readonly phase: ConditionPhase;
  /** Whether the condition holds; cheap, allocation-free. */
  readonly test: (m: MessageFacts, r: PreparedAddress) => boolean;
  /** Why it holds, in operator language; only called when test() is true. */
  readonly explain: (m: MessageFacts, r: PreparedAddress) => string;
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
  /** Every condition, in config key order (explanations follow it). */
  readonly conditions: readonly CompiledCondition[];
  /** The same split by what they look at: the message (evaluated once) and the recipient. */
  readonly messageConditions: readonly CompiledCondition[];
  readonly recipientConditions: readonly CompiledCondition[];
  readonly action: CompiledAction;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  /** What every recipient no rule matched gets. */
  readonly defaultRule: CompiledRule;
  /** Route name → the fallback routes that take over in turn after a permanent failure. */
  readonly fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly acceptedDomains: readonly string[];
  /** Lower-case header field names some rule matches on: the only ones the router prepares. */
  readonly headerNames: ReadonlySet<string>;
}

const q = (s: string) => JSON.stringify(s);

function firstMatch<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  for (const item of items) if (test(item)) return item;
  return undefined;
}

interface Glob {
  readonly text: string;
  readonly glob: string;
}

const globs = (list: readonly string[], norm: (s: string) => string = (s) => s.toLowerCase()): Glob[] =>
  list.map((text) => ({ text, glob: norm(text) }));

function compileAddressPatterns(list: readonly string[]): { text: string; pattern: AddressPattern }[] {
  return list.map((text) => {
    const pattern = parseAddressPattern(text);
    if (typeof pattern === 'string') throw new RelayError('RELAY_CONFIG_INVALID', pattern);
    return { text, pattern };
  });
}

function compileNetworks(list: readonly string[]): ParsedCidr[] {
  return list.map((text) => {
    const net = parseCidr(text);
    if (net === undefined) throw new RelayError('RELAY_CONFIG_INVALID', `"${text}" is not a CIDR range`);
    return net;
  });
}

function condition(
  key: string,
  phase: ConditionPhase,
  test: CompiledCondition['test'],
  explain: CompiledCondition['explain'],
): CompiledCondition {
  return { key, phase, test, explain };
}

function compileConditions(
  match: RuleConfig['match'],
  acceptedDomains: readonly string[],
): CompiledCondition[] {
  const out: CompiledCondition[] = [];
  if (match.identity !== undefined) {
    const ids = match.identity;
    out.push(
      condition(
        'identity',
        'envelope',
        (m) => ids.includes(m.identity),
        (m) => `identity is ${q(m.identity)}`,
      ),
    );
  }
  if (match.sourceNetwork !== undefined) {
    const nets = compileNetworks(match.sourceNetwork);
    const hit = (m: MessageFacts) => {
      const ip = m.ip;
      return ip === undefined ? undefined : firstMatch(nets, (n) => cidrContains(n, ip));
    };
    out.push(
      condition(
        'sourceNetwork',
        'envelope',
        (m) => hit(m) !== undefined,
        (m) => `source ${m.sourceIp} is in ${hit(m)?.text}`,
      ),
    );
  }
  if (match.authenticated !== undefined) {
    const want = match.authenticated;
    out.push(
      condition(
        'authenticated',
        'envelope',
        (m) => (m.authUser !== undefined) === want,
        (m) => (want ? `client authenticated as ${q(m.authUser ?? '')}` : 'client did not authenticate'),
      ),
    );
  }
  if (match.authUser !== undefined) {
    const list = globs(match.authUser);
    const hit = (m: MessageFacts) => {
      const user = m.authUserPrepared;
      return user === undefined ? undefined : firstMatch(list, (g) => globMatchPrepared(g.glob, user));
    };
    out.push(
      condition(
        'authUser',
        'envelope',
        (m) => hit(m) !== undefined,
        (m) => `authenticated user ${q(m.authUser ?? '')} matches ${q(hit(m)?.text ?? '')}`,
      ),
    );
  }
  if (match.mailFrom !== undefined) {
    const patterns = compileAddressPatterns(match.mailFrom);
    const hit = (m: MessageFacts) => firstMatch(patterns, (p) => matchPreparedAddress(p.pattern, m.mailFrom));
    out.push(
      condition(
        'mailFrom',
        'envelope',
        (m) => hit(m) !== undefined,
        (m) => {
          const h = hit(m);
          return h?.pattern.kind === 'null'
            ? 'MAIL FROM is the null sender <>'
            : `MAIL FROM ${q(m.mailFrom.address)} matches ${q(h?.text ?? '')}`;
        },
      ),
    );
  }
  if (match.recipient !== undefined) {
    const patterns = compileAddressPatterns(match.recipient);
    const hit = (r: PreparedAddress) => firstMatch(patterns, (p) => matchPreparedAddress(p.pattern, r));
    out.push(
      condition(
        'recipient',
        'recipient',
        (_m, r) => hit(r) !== undefined,
        (_m, r) => `recipient ${q(r.address)} matches ${q(hit(r)?.text ?? '')}`,
      ),
    );
  }
  if (match.recipientDomain !== undefined) {
    const list = globs(match.recipientDomain, normalizeDomain);
    const hit = (r: PreparedAddress) =>
      r.domain === '' ? undefined : firstMatch(list, (g) => globMatchPrepared(g.glob, r.domain));
    out.push(
      condition(
        'recipientDomain',
        'recipient',
        (_m, r) => hit(r) !== undefined,
        (_m, r) => `recipient domain ${q(r.domain)} matches ${q(hit(r)?.text ?? '')}`,
      ),
    );
  }
  if (match.external !== undefined) {
    const want = match.external;
    const accepted = globs(acceptedDomains, normalizeDomain);
    // A recipient without a domain ("postmaster") is addressed to this relay: never external.
    const acceptedHit = (r: PreparedAddress) =>
      firstMatch(accepted, (g) => globMatchPrepared(g.glob, r.domain));
    const isExternal = (r: PreparedAddress) => r.domain !== '' && acceptedHit(r) === undefined;
    out.push(
      condition(
        'external',
        'recipient',
        (_m, r) => isExternal(r) === want,
        (_m, r) => {
          if (want) return `recipient domain ${q(r.domain)} is external (not in acceptedDomains)`;
          const h = acceptedHit(r);
          return h
            ? `recipient domain ${q(r.domain)} is internal (acceptedDomains ${q(h.text)})`
            : `recipient ${q(r.address)} has no domain (internal)`;
        },
      ),
    );
  }
  if (match.size !== undefined) {
    const { over, atMost } = match.size;
    const parts = [
      ...(over === undefined ? [] : [`over ${over}`]),
      ...(atMost === undefined ? [] : [`at most ${atMost}`]),
    ].join(' and ');
    out.push(
      condition(
        'size',
        'content',
        (m) =>
          m.size !== undefined &&
          (over === undefined || m.size > over) &&
          (atMost === undefined || m.size <= atMost),
        (m) => `size ${m.size} bytes is ${parts}`,
      ),
    );
  }
  if (match.header !== undefined) {
    const fieldName = match.header.name;
    const lower = fieldName.toLowerCase();
    const list = globs(match.header.value);
    const hit = (m: MessageFacts) => {
      for (const value of m.headers?.get(lower) ?? []) {
        const g = firstMatch(list, (x) => value.candidates.some((c) => globMatchPrepared(x.glob, c)));
        if (g) return { value, g };
      }
      return undefined;
    };
    out.push(
      condition(
        'header',
        'content',
        (m) => hit(m) !== undefined,
        (m) => {
          const h = hit(m);
          return `header ${fieldName} ${q(h?.value.shown.slice(0, 80) ?? '')} matches ${q(h?.g.text ?? '')}`;
        },
      ),
    );
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
    const conditions = compileConditions(rule.match, config.acceptedDomains);
    return {
      name: rule.name,
      index,
      conditions,
      messageConditions: conditions.filter((c) => c.phase !== 'recipient'),
      recipientConditions: conditions.filter((c) => c.phase === 'recipient'),
      action,
    };
  });
  return {
    rules,
    defaultRule: {
      name: DEFAULT_RULE_NAME,
      index: -1,
      conditions: [],
      messageConditions: [],
      recipientConditions: [],
      action: { type: 'route', route: config.defaultRoute, sendAs: undefined, mailFrom: undefined },
    },
    fallbacks: fallbackChains(config.routes),
    acceptedDomains: config.acceptedDomains,
    headerNames: new Set(
      config.rules.flatMap((r) => (r.match.header === undefined ? [] : [r.match.header.name.toLowerCase()])),
    ),
  };
}
