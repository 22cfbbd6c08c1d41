// Config of routing rules: an ordered list, first match wins, and the mandatory `defaultRoute` for
// every recipient no rule matches (schema.ts). Also `acceptedDomains`, the organisation's own
// domains, which give "external" its meaning. The language is documented in docs/routing.md; the
// router (routing/router.ts) evaluates it as a pure function. Only validation lives here: values stay
// plain data (patterns as strings, sizes in bytes) and routing/rules.ts compiles them once at start.
import { z } from 'zod';
import { emailAddress, name, size } from './fields.ts';
import { networkProblem } from './networks.ts';
import { checkDomainPattern, checkGlob, parseAddressPattern } from './rule-patterns.ts';

/**
 * A value or a list of values (any one of them may match), each checked by `check`. A single value
 * becomes a one-element list so the router sees one shape.
 */
function oneOrMany(check: (s: string) => string | undefined) {
  return z.union([z.string(), z.array(z.string()).min(1)]).transform((value, ctx) => {
    const list = typeof value === 'string' ? [value] : value;
    list.forEach((item, i) => {
      const problem = check(item);
      if (problem !== undefined) {
        ctx.issues.push({
          code: 'custom',
          message: problem,
          input: item,
          path: typeof value === 'string' ? [] : [i],
        });
      }
    });
    return list;
  });
}

const checkName = (s: string) => (name.safeParse(s).success ? undefined : `"${s}" is not a valid name`);
const checkCidr = networkProblem;
const checkAddress = (s: string) => {
  const parsed = parseAddressPattern(s);
  return typeof parsed === 'string' ? parsed : undefined;
};
const checkHeaderName = (s: string) =>
  /^[\x21-\x39\x3b-\x7e]{1,76}$/.test(s) ? undefined : `"${s}" is not a header field name`;

/** `contoso.com` (that domain only) or `*.contoso.com` (its subdomains); see docs/routing.md. */
export const domainPatterns = oneOrMany(checkDomainPattern);

const sizeRange = z
  .strictObject({
    /** Matches when the message is larger than this. */
    over: size.optional(),
    /** Matches when the message is at most this large. */
    atMost: size.optional(),
  })
  .refine((s) => s.over !== undefined || s.atMost !== undefined, 'give over, atMost or both');

const headerMatch = z.strictObject({
  /** Header field name, case-insensitive (Subject, X-Mailer). */
  name: z.string().refine((s) => checkHeaderName(s) === undefined, 'is not a header field name'),
  /** Glob(s) over the unfolded, decoded value; any field of that name may match. */
  value: oneOrMany(checkGlob),
});

export const matchSchema = z
  .strictObject({
    /** Identity names (config `identities[].name`). */
    identity: oneOrMany(checkName).optional(),
    /** Source addresses / CIDR ranges of the client. */
    sourceNetwork: oneOrMany(checkCidr).optional(),
    /** true: the client used SMTP AUTH; false: it did not. */
    authenticated: z.boolean().optional(),
    /** SMTP AUTH user name globs (implies authenticated). */
    authUser: oneOrMany(checkGlob).optional(),
    /** MAIL FROM address patterns; `<>` is the null sender. */
    mailFrom: oneOrMany(checkAddress).optional(),
    /** Recipient address patterns (RCPT TO). */
    recipient: oneOrMany(checkAddress).optional(),
    /** Recipient domain patterns. */
    recipientDomain: domainPatterns.optional(),
    /** true: the recipient's domain is not in acceptedDomains; false: it is. */
    external: z.boolean().optional(),
    /** Message size in bytes (units required). */
    size: sizeRange.optional(),
    /** One header field condition. */
    header: headerMatch.optional(),
  })
  .prefault({});

const rejectSchema = z.preprocess(
  // `reject: true` is the plain form: 550 5.7.1 with the generic text.
  (v) => (v === true ? {} : v),
  z.strictObject({
    // Only permanent replies: after DATA a per-recipient temporary failure cannot be told to the
    // client in one reply, so it would become a dead letter the client never hears of.
    code: z.number().int().min(550).max(559).default(550),
    enhanced: z
      .string()
      .regex(/^5\.\d{1,3}\.\d{1,3}$/, 'must be an RFC 3463 permanent status such as 5.7.1')
      .default('5.7.1'),
    message: z
      .string()
      .regex(/^[\x20-\x7e]{1,200}$/, 'must be 1-200 printable ASCII characters on one line')
      .default('Message refused by relay policy'),
  }),
);

export const actionSchema = z
  .strictObject({
    /** Deliver through this route; defaultRoute when omitted. */
    route: name.optional(),
    /** Refuse the recipients instead of delivering (true, or {code, enhanced, message}). */
    reject: rejectSchema.optional(),
    /** Replace the envelope sender (MAIL FROM) with this address. */
    rewriteSender: emailAddress.optional(),
    /** Mailbox to send as (Graph routes). */
    sendAs: emailAddress.optional(),
  })
  .superRefine((a, ctx) => {
    if (a.reject !== undefined) {
      const with_ = (['route', 'rewriteSender', 'sendAs'] as const).filter((k) => a[k] !== undefined);
      if (with_.length > 0) {
        ctx.issues.push({
          code: 'custom',
          path: ['reject'],
          message: `reject cannot be combined with ${with_.join(', ')}`,
          input: a,
        });
      }
    } else if (a.route === undefined && a.rewriteSender === undefined && a.sendAs === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: [],
        message: 'an action needs route, reject, rewriteSender or sendAs',
        input: a,
      });
    }
  });

export const ruleSchema = z.strictObject({
  name,
  /** Conditions; all given conditions must hold (a list inside one condition: any item). */
  match: matchSchema,
  /** What to do with the recipients the rule matches. */
  action: actionSchema,
});

/** The organisation's own domains: a recipient outside them is "external". */
export const acceptedDomainsSchema = z
  .array(z.string())
  .default([])
  .superRefine((list, ctx) => {
    list.forEach((item, i) => {
      const problem = checkDomainPattern(item);
      if (problem !== undefined)
        ctx.issues.push({ code: 'custom', message: problem, input: item, path: [i] });
    });
  });

export type RuleConfig = z.output<typeof ruleSchema>;

/** Name the router gives recipients no rule matched; reserved. */
export const DEFAULT_RULE_NAME = 'default';

interface RulesContext {
  readonly rules: readonly RuleConfig[];
  readonly routes: readonly { readonly name: string; readonly fallback?: string | undefined }[];
  readonly identities: readonly { readonly name: string }[];
  readonly acceptedDomains: readonly string[];
}

interface IssueSink {
  readonly issues: {
    push(issue: { code: 'custom'; path: (string | number)[]; message: string; input: unknown }): unknown;
  };
}

/**
 * Cross-reference checks of the rules against the rest of the config, called from the config
 * schema's superRefine: routes and identities exist, "default" stays reserved, `external` has
 * acceptedDomains to compare with, no rule hides behind a catch-all, and fallbacks do not loop.
 */
export function refineRules(cfg: RulesContext, ctx: IssueSink): void {
  const fail = (path: (string | number)[], message: string, input: unknown) =>
    ctx.issues.push({ code: 'custom', path, message, input });
  const routes = new Set(cfg.routes.map((r) => r.name));
  const identities = new Set(cfg.identities.map((i) => i.name));
  let catchAll: { index: number; name: string } | undefined;
  cfg.rules.forEach((rule, i) => {
    if (rule.name === DEFAULT_RULE_NAME) {
      fail(['rules', i, 'name'], `"${DEFAULT_RULE_NAME}" is reserved for the default route`, rule.name);
    }
    const route = rule.action.route;
    if (route !== undefined && !routes.has(route)) {
      fail(
        ['rules', i, 'action', 'route'],
        `no route named "${route}" (routes: ${[...routes].join(', ')})`,
        route,
      );
    }
    rule.match.identity?.forEach((id, j) => {
      if (!identities.has(id)) {
        fail(
          ['rules', i, 'match', 'identity', j],
          `no identity named "${id}" (identities: ${[...identities].join(', ')})`,
          id,
        );
      }
    });
    if (rule.match.external !== undefined && cfg.acceptedDomains.length === 0) {
      fail(
        ['rules', i, 'match', 'external'],
        'needs acceptedDomains (the organisation’s own domains) to tell external recipients apart',
        rule.match.external,
      );
    }
    if (rule.match.authenticated === false && rule.match.authUser !== undefined) {
      fail(['rules', i, 'match', 'authUser'], 'can never match together with authenticated: false', rule);
    }
    if (catchAll !== undefined) {
      fail(
        ['rules', i],
        `unreachable: rule "${catchAll.name}" (rules[${catchAll.index}]) has no conditions and matches everything first`,
        rule.name,
      );
    } else if (Object.values(rule.match).every((v) => v === undefined)) {
      catchAll = { index: i, name: rule.name };
    }
  });
  const byName = new Map(cfg.routes.map((r) => [r.name, r]));
  cfg.routes.forEach((r, i) => {
    const chain = [r.name];
    let next = r.fallback;
    while (next !== undefined && byName.has(next)) {
      if (chain.includes(next)) {
        if (next !== r.name) break; // a loop further down the chain; reported at its own route
        if (chain.length > 1) {
          fail(['routes', i, 'fallback'], `fallback loop: ${[...chain, next].join(' → ')}`, r.fallback);
        }
        break;
      }
      chain.push(next);
      next = byName.get(next)?.fallback;
    }
  });
}
