// Per-identity sending policy as one pure function: given an identity's effective policy and the
// facts of one SMTP command (MAIL, RCPT, end of DATA), decide accept / tempfail / reject with the
// registry code, SMTP reply and the rule that decided. No I/O, no clock: rate state is passed in as a
// fact, so the function is table- and property-testable. session-gates.ts and data-path.ts apply it.
import type { IdentityConfig } from '../config/identity.ts';
import type { ListenerConfig } from '../config/listener.ts';
import { type ErrorCode, ErrorCodes, RelayError } from '../errors.ts';

export interface IdentityPolicy {
  readonly identity: string;
  /** Empty: any sender. */
  readonly allowedSenders: readonly string[];
  readonly rewriteSender?: string;
  /** Empty: any recipient domain. */
  readonly allowedRecipientDomains: readonly string[];
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly ratePerMinute?: number;
}

export type CommandFacts =
  | {
      readonly stage: 'mail';
      /** MAIL FROM address; "" for the null sender. */
      readonly mailFrom: string;
      /** SIZE= parameter, when the client declared one. */
      readonly declaredSize?: number;
      /** Whether the identity's rate budget had a message left (false only when a rate is set). */
      readonly rateAvailable: boolean;
    }
  | {
      readonly stage: 'rcpt';
      readonly recipient: string;
      /** Recipients already accepted for this message. */
      readonly acceptedRecipients: number;
    }
  | { readonly stage: 'data'; readonly size: number };

export type Decision =
  | {
      readonly kind: 'accept' /** Envelope sender to record instead of MAIL FROM. */;
      readonly mailFrom?: string;
    }
  | {
      readonly kind: 'tempfail' | 'reject';
      readonly code: ErrorCode;
      readonly responseCode: number;
      readonly enhanced: string;
      readonly reason: string;
      /** The policy key that decided, e.g. "identities.scanners.allowedSenders". */
      readonly rule: string;
    };

/** A decision that refuses, as the error smtp-server sends. */
export function decisionError(d: Exclude<Decision, { kind: 'accept' }>): RelayError {
  return new RelayError(d.code, d.reason, { responseCode: d.responseCode, detail: { rule: d.rule } });
}

/** The policy in force for an identity on a listener: identity caps never exceed the listener's. */
export function effectivePolicy(identity: IdentityConfig, listener: ListenerConfig): IdentityPolicy {
  return {
    identity: identity.name,
    allowedSenders: identity.allowedSenders,
    ...(identity.rewriteSender === undefined ? {} : { rewriteSender: identity.rewriteSender }),
    allowedRecipientDomains: identity.allowedRecipientDomains,
    maxMessageSize: Math.min(identity.maxMessageSize ?? Number.POSITIVE_INFINITY, listener.maxMessageSize),
    maxRecipients: Math.min(identity.maxRecipients ?? Number.POSITIVE_INFINITY, listener.maxRecipients),
    ...(identity.ratePerMinute === undefined ? {} : { ratePerMinute: identity.ratePerMinute }),
  };
}

function refuse(code: ErrorCode, reason: string, rule: string): Decision {
  const spec = ErrorCodes[code] as { smtp?: { code: number; enhanced: string } };
  const reply = spec.smtp ?? { code: 550, enhanced: '5.7.1' };
  return {
    kind: reply.code < 500 ? 'tempfail' : 'reject',
    code,
    responseCode: reply.code,
    enhanced: reply.enhanced,
    reason,
    rule,
  };
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^@]*');
  return new RegExp(`^${body}$`, 'i');
}

/** Does a MAIL FROM address match one allowedSenders entry? */
export function senderMatches(pattern: string, address: string): boolean {
  if (pattern === '<>') return address === '';
  if (address === '') return false;
  if (pattern.includes('*')) return globToRegExp(pattern).test(address);
  if (pattern.startsWith('@')) return domainOf(address) === pattern.slice(1).toLowerCase();
  if (!pattern.includes('@')) return domainOf(address) === pattern.toLowerCase();
  return pattern.toLowerCase() === address.toLowerCase();
}

/** Does a recipient's domain match one allowedRecipientDomains entry ("*.x" = strict subdomains)? */
export function recipientDomainMatches(pattern: string, address: string): boolean {
  const domain = domainOf(address);
  if (domain === '') return false;
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return domain.endsWith(p.slice(1)) && domain.length > p.length - 1;
  return domain === p;
}

/** Invalid UTF-8 (decoded as U+FFFD) or control characters: never a deliverable address. */
const BAD_ADDRESS = /[\uFFFD\p{Cc}]/u;

export function decide(policy: IdentityPolicy, facts: CommandFacts): Decision {
  const rule = (key: string) => `identities.${policy.identity}.${key}`;
  switch (facts.stage) {
    case 'mail': {
      if (BAD_ADDRESS.test(facts.mailFrom)) {
        return refuse('RELAY_ADDRESS_INVALID', 'Bad sender address syntax', rule('addressSyntax'));
      }
      if (
        policy.allowedSenders.length > 0 &&
        !policy.allowedSenders.some((p) => senderMatches(p, facts.mailFrom))
      ) {
        return refuse(
          'RELAY_SENDER_DENIED',
          `Sender <${facts.mailFrom}> not allowed for ${policy.identity}`,
          rule('allowedSenders'),
        );
      }
      if (facts.declaredSize !== undefined && facts.declaredSize > policy.maxMessageSize) {
        return refuse(
          'RELAY_MESSAGE_TOO_LARGE',
          `Message size ${facts.declaredSize} exceeds limit ${policy.maxMessageSize}`,
          rule('maxMessageSize'),
        );
      }
      if (policy.ratePerMinute !== undefined && !facts.rateAvailable) {
        return refuse(
          'RELAY_RATE_LIMITED',
          `Rate limit of ${policy.ratePerMinute} messages/minute reached; try again later`,
          rule('ratePerMinute'),
        );
      }
      return policy.rewriteSender === undefined
        ? { kind: 'accept' }
        : { kind: 'accept', mailFrom: policy.rewriteSender };
    }
    case 'rcpt': {
      if (BAD_ADDRESS.test(facts.recipient)) {
        return refuse('RELAY_ADDRESS_INVALID', 'Bad recipient address syntax', rule('addressSyntax'));
      }
      if (facts.acceptedRecipients >= policy.maxRecipients) {
        return refuse(
          'RELAY_TOO_MANY_RECIPIENTS',
          `Too many recipients (limit ${policy.maxRecipients})`,
          rule('maxRecipients'),
        );
      }
      if (
        policy.allowedRecipientDomains.length > 0 &&
        !policy.allowedRecipientDomains.some((p) => recipientDomainMatches(p, facts.recipient))
      ) {
        return refuse(
          'RELAY_RECIPIENT_DENIED',
          `Relay access denied: ${policy.identity} may not send to <${facts.recipient}>`,
          rule('allowedRecipientDomains'),
        );
      }
      return { kind: 'accept' };
    }
    case 'data': {
      if (facts.size > policy.maxMessageSize) {
        return refuse(
          'RELAY_MESSAGE_TOO_LARGE',
          `Message exceeds fixed maximum message size ${policy.maxMessageSize}`,
          rule('maxMessageSize'),
        );
      }
      return { kind: 'accept' };
    }
  }
}
