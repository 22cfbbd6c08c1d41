// Routing room: the router. A pure function from a message's envelope and facts to one decision per
// recipient, grouped into delivery legs and rejections. No I/O, no clock, no randomness: the same
// rules and input always give the same decision, so `route explain` shows exactly what the receiver
// will do.
//
// Precedence (docs/routing.md): each recipient is routed on its own; rules are tried in config order
// and the first rule whose every condition holds decides; a recipient no rule matches goes to
// `defaultRoute` under the rule name "default". Recipients that end on the same rule form one leg
// (or one rejection), in the order they were given.
import { RelayError } from '../errors.ts';
import { type MessageFacts, prepareMessage, prepareRecipient } from './message-facts.ts';
import type { PreparedAddress } from './patterns.ts';
import type { CompiledRule, CompiledRules } from './rules.ts';
import { compileRules } from './rules.ts';

export { loadHeaderDecoder } from './patterns.ts';
export type { CompiledRules } from './rules.ts';
export { compileRules };

export interface RouteInput {
  readonly identity: string;
  readonly sourceIp: string;
  readonly authUser?: string | undefined;
  /** "" for the null sender. */
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  /** Message size in bytes. */
  readonly size: number;
  /** Unfolded, decoded header fields of the message, in order. */
  readonly headers: readonly { readonly name: string; readonly value: string }[];
}

/** Recipients that leave through one route. Maps onto a spool `Delivery`. */
export interface Leg {
  route: string;
  recipients: string[];
  /** Rule that chose the route ("default" when none matched). */
  rule: string;
  sendAs?: string;
  /** Envelope sender to use instead of the original MAIL FROM. */
  mailFrom?: string;
}

/** Recipients a rule refused, with the reply the client gets. */
export interface Rejection {
  recipients: string[];
  rule: string;
  responseCode: number;
  enhanced: string;
  message: string;
}

interface DecisionCommon {
  readonly recipient: string;
  readonly rule: string;
  /** Position of the rule in config `rules`; -1 for the default. */
  readonly ruleIndex: number;
  /** Which conditions held, in operator language (empty for a rule without conditions). */
  readonly reasons: readonly string[];
}

export type RecipientDecision =
  | (DecisionCommon & {
      readonly type: 'route';
      readonly route: string;
      readonly sendAs?: string;
      readonly mailFrom?: string;
      /** Routes that take over in turn if this one fails permanently. */
      readonly fallbacks: readonly string[];
    })
  | (DecisionCommon & {
      readonly type: 'reject';
      readonly responseCode: number;
      readonly enhanced: string;
      readonly message: string;
    });

export interface RoutingDecision {
  legs: Leg[];
  rejections: Rejection[];
  /** One entry per input recipient, same order (duplicates included). */
  perRecipient: RecipientDecision[];
}

const NO_RULE_MATCHED = 'no rule matched';

/** A rule's verdict on the message-level facts: unknown while content conditions lack size/headers. */
type MessageVerdict = true | false | 'unknown';

const NO_RECIPIENT = prepareRecipient('');

function messageVerdict(rule: CompiledRule, m: MessageFacts): MessageVerdict {
  let unknown = false;
  for (const c of rule.messageConditions) {
    if (c.phase === 'content' && (m.size === undefined || m.headers === undefined)) unknown = true;
    else if (!c.test(m, NO_RECIPIENT)) return false;
  }
  return unknown ? 'unknown' : true;
}

/**
 * The first rule that holds for recipient `r`; 'unknown' when a rule that might hold needs content
 * the facts lack; undefined for none. `cache` keeps each rule's message verdict, so message-level
 * conditions run once per message, not once per recipient.
 */
function firstRule(
  rules: CompiledRules,
  m: MessageFacts,
  r: PreparedAddress,
  cache: MessageVerdict[],
): CompiledRule | 'unknown' | undefined {
  for (const rule of rules.rules) {
    let mv = cache[rule.index];
    if (mv === undefined) {
      mv = messageVerdict(rule, m);
      cache[rule.index] = mv;
    }
    if (mv === false) continue;
    if (!rule.recipientConditions.every((c) => c.test(m, r))) continue;
    return mv === 'unknown' ? 'unknown' : rule;
  }
  return undefined;
}

function decide(
  rules: CompiledRules,
  m: MessageFacts,
  recipient: string,
  cache: MessageVerdict[],
): RecipientDecision {
  const r = prepareRecipient(recipient);
  const found = firstRule(rules, m, r, cache);
  // With size and headers known, 'unknown' cannot come back; the default keeps the type total.
  const chosen = found === undefined || found === 'unknown' ? rules.defaultRule : found;
  const reasons =
    chosen === rules.defaultRule ? [NO_RULE_MATCHED] : chosen.conditions.map((c) => c.explain(m, r));
  const common = { recipient, rule: chosen.name, ruleIndex: chosen.index, reasons };
  const action = chosen.action;
  if (action.type === 'reject') {
    return {
      ...common,
      type: 'reject',
      responseCode: action.responseCode,
      enhanced: action.enhanced,
      message: action.message,
    };
  }
  return {
    ...common,
    type: 'route',
    route: action.route,
    ...(action.sendAs === undefined ? {} : { sendAs: action.sendAs }),
    ...(action.mailFrom === undefined ? {} : { mailFrom: action.mailFrom }),
    fallbacks: rules.fallbacks.get(action.route) ?? [],
  };
}

/** Routes every recipient of a message: exactly one decision each, grouped into legs and rejections. */
export function routeMessage(rules: CompiledRules, input: RouteInput): RoutingDecision {
  const facts = prepareMessage(input, rules.headerNames);
  const cache: MessageVerdict[] = [];
  const perRecipient = input.recipients.map((r) => decide(rules, facts, r, cache));
  const legs = new Map<number, Leg>();
  const rejections = new Map<number, Rejection>();
  for (const d of perRecipient) {
    if (d.type === 'route') {
      const leg = legs.get(d.ruleIndex);
      if (leg) leg.recipients.push(d.recipient);
      else {
        legs.set(d.ruleIndex, {
          route: d.route,
          recipients: [d.recipient],
          rule: d.rule,
          ...(d.sendAs === undefined ? {} : { sendAs: d.sendAs }),
          ...(d.mailFrom === undefined ? {} : { mailFrom: d.mailFrom }),
        });
      }
    } else {
      const rejection = rejections.get(d.ruleIndex);
      if (rejection) rejection.recipients.push(d.recipient);
      else {
        rejections.set(d.ruleIndex, {
          recipients: [d.recipient],
          rule: d.rule,
          responseCode: d.responseCode,
          enhanced: d.enhanced,
          message: d.message,
        });
      }
    }
  }
  return { legs: [...legs.values()], rejections: [...rejections.values()], perRecipient };
}

/**
 * The early check at RCPT TO, before size and headers exist. Rules are walked in the same order as
 * routeMessage; a rule that fails on known facts is skipped, the first rule that certainly matches
 * decides (a rejection is returned, a route means "accept"), and the first rule that might match
 * once the content is known stops the walk with undefined. So a rejection here is always the one
 * routeMessage would give this recipient later, whatever the message turns out to be.
 */
export function rejectAtRcpt(
  rules: CompiledRules,
  input: Omit<RouteInput, 'size' | 'headers' | 'recipients'> & { readonly recipient: string },
): Rejection | undefined {
  const facts = prepareMessage({ ...input, size: undefined, headers: undefined });
  const rule = firstRule(rules, facts, prepareRecipient(input.recipient), []);
  if (rule === undefined || rule === 'unknown' || rule.action.type === 'route') return undefined;
  return {
    recipients: [input.recipient],
    rule: rule.name,
    responseCode: rule.action.responseCode,
    enhanced: rule.action.enhanced,
    message: rule.action.message,
  };
}

/** The SMTP reply text for a rejection ("5.7.1 Message refused by relay policy"). */
export function rejectionReply(rejection: Rejection): { responseCode: number; message: string } {
  return { responseCode: rejection.responseCode, message: `${rejection.enhanced} ${rejection.message}` };
}

/** The error the receiver hands smtp-server for a rejection: the rule's own code, status and text. */
export function rejectionError(rejection: Rejection): RelayError {
  return new RelayError('RELAY_RULE_REJECTED', rejection.message, {
    responseCode: rejection.responseCode,
    enhanced: rejection.enhanced,
    detail: { rule: rejection.rule },
  });
}
