import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CommandFacts,
  type Decision,
  decide,
  type IdentityPolicy,
  recipientDomainMatches,
  senderMatches,
} from '../../../appliance/src/receiver/policy.ts';

function policy(patch: Partial<IdentityPolicy> = {}): IdentityPolicy {
  return {
    identity: 'scanners',
    allowedSenders: [],
    allowedRecipientDomains: [],
    maxMessageSize: 1_000_000,
    maxRecipients: 10,
    ...patch,
  };
}

const mail = (mailFrom: string, extra: Partial<Extract<CommandFacts, { stage: 'mail' }>> = {}) =>
  ({ stage: 'mail', mailFrom, rateAvailable: true, ...extra }) as const;
const rcpt = (recipient: string, acceptedRecipients = 0) =>
  ({ stage: 'rcpt', recipient, acceptedRecipients }) as const;

type Row = [string, Partial<IdentityPolicy>, CommandFacts, string];

/** Expected: "accept", "accept:<rewritten>", or "<kind> <reply> <enhanced> <code> <rule key>". */
const TABLE: Row[] = [
  ['any sender when the list is empty', {}, mail('x@anywhere.test'), 'accept'],
  ['null sender when the list is empty', {}, mail(''), 'accept'],
  ['exact sender', { allowedSenders: ['scanner@contoso.com'] }, mail('Scanner@Contoso.com'), 'accept'],
  [
    'other sender at the same domain is refused by an exact entry',
    { allowedSenders: ['scanner@contoso.com'] },
    mail('ceo@contoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  ['@domain entry', { allowedSenders: ['@contoso.com'] }, mail('ceo@contoso.com'), 'accept'],
  ['bare domain entry', { allowedSenders: ['contoso.com'] }, mail('ceo@CONTOSO.com'), 'accept'],
  [
    'domain entry does not cover a subdomain',
    { allowedSenders: ['@contoso.com'] },
    mail('x@evil.contoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  [
    'domain entry is not fooled by a suffix',
    { allowedSenders: ['@contoso.com'] },
    mail('x@notcontoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  [
    'glob on the local part',
    { allowedSenders: ['scan-*@contoso.com'] },
    mail('scan-3f@contoso.com'),
    'accept',
  ],
  ['glob on subdomains', { allowedSenders: ['*@*.contoso.com'] }, mail('a@b.contoso.com'), 'accept'],
  [
    'glob * never spans the @',
    { allowedSenders: ['*@contoso.com'] },
    mail('a@evil.test@contoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  [
    'regex metacharacters in a pattern are literal',
    { allowedSenders: ['a.b@contoso.com'] },
    mail('axb@contoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  [
    'null sender refused when a list is set',
    { allowedSenders: ['@contoso.com'] },
    mail(''),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  ['null sender allowed by <>', { allowedSenders: ['<>'] }, mail(''), 'accept'],
  [
    'rewrite applies to an allowed sender',
    { allowedSenders: ['scanner@local'], rewriteSender: 'scanner@contoso.com' },
    mail('scanner@local'),
    'accept:scanner@contoso.com',
  ],
  [
    'rewrite does not launder a refused sender',
    { allowedSenders: ['scanner@local'], rewriteSender: 'scanner@contoso.com' },
    mail('ceo@contoso.com'),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  [
    'declared SIZE over the identity cap',
    { maxMessageSize: 1000 },
    mail('a@b.test', { declaredSize: 1001 }),
    'reject 552 5.3.4 RELAY_MESSAGE_TOO_LARGE maxMessageSize',
  ],
  ['declared SIZE at the cap', { maxMessageSize: 1000 }, mail('a@b.test', { declaredSize: 1000 }), 'accept'],
  [
    'rate exhausted is a tempfail, not a loss',
    { ratePerMinute: 10 },
    mail('a@b.test', { rateAvailable: false }),
    'tempfail 451 4.7.1 RELAY_RATE_LIMITED ratePerMinute',
  ],
  ['rate fact ignored without a rate', {}, mail('a@b.test', { rateAvailable: false }), 'accept'],
  [
    'sender refusal wins over rate',
    { allowedSenders: ['x@y.test'], ratePerMinute: 1 },
    mail('a@b.test', { rateAvailable: false }),
    'reject 550 5.7.1 RELAY_SENDER_DENIED allowedSenders',
  ],
  ['any recipient when the list is empty', {}, rcpt('v@gmail.com'), 'accept'],
  ['recipient domain listed', { allowedRecipientDomains: ['contoso.com'] }, rcpt('a@CONTOSO.COM'), 'accept'],
  [
    'foreign recipient refused',
    { allowedRecipientDomains: ['contoso.com'] },
    rcpt('victim@gmail.com'),
    'reject 550 5.7.1 RELAY_RECIPIENT_DENIED allowedRecipientDomains',
  ],
  [
    'percent hack is judged by the real domain',
    { allowedRecipientDomains: ['contoso.com'] },
    rcpt('victim%gmail.com@contoso.com'),
    'accept',
  ],
  [
    'recipient without a domain refused when a list is set',
    { allowedRecipientDomains: ['contoso.com'] },
    rcpt('postmaster'),
    'reject 550 5.7.1 RELAY_RECIPIENT_DENIED allowedRecipientDomains',
  ],
  [
    '*.domain covers subdomains',
    { allowedRecipientDomains: ['*.contoso.com'] },
    rcpt('a@eu.contoso.com'),
    'accept',
  ],
  [
    '*.domain does not cover the apex',
    { allowedRecipientDomains: ['*.contoso.com'] },
    rcpt('a@contoso.com'),
    'reject 550 5.7.1 RELAY_RECIPIENT_DENIED allowedRecipientDomains',
  ],
  [
    'max recipients reached',
    { maxRecipients: 3 },
    rcpt('a@b.test', 3),
    'tempfail 452 4.5.3 RELAY_TOO_MANY_RECIPIENTS maxRecipients',
  ],
  ['below max recipients', { maxRecipients: 3 }, rcpt('a@b.test', 2), 'accept'],
  [
    'DATA over the cap',
    { maxMessageSize: 10 },
    { stage: 'data', size: 11 },
    'reject 552 5.3.4 RELAY_MESSAGE_TOO_LARGE maxMessageSize',
  ],
  ['DATA at the cap', { maxMessageSize: 10 }, { stage: 'data', size: 10 }, 'accept'],
];

function show(d: Decision): string {
  if (d.kind === 'accept') return d.mailFrom === undefined ? 'accept' : `accept:${d.mailFrom}`;
  return `${d.kind} ${d.responseCode} ${d.enhanced} ${d.code} ${d.rule.replace('identities.scanners.', '')}`;
}

/** Addresses without "*", which would make an allowedSenders entry a pattern. */
const plainAddress = fc.emailAddress().filter((a) => !a.includes('*'));

describe('access policy: decide()', () => {
  it.each(TABLE)('%s', (_name, patch, facts, expected) => {
    expect(show(decide(policy(patch), facts))).toBe(expected);
  });

  it('refusals always carry a registry code, a matching class and the identity in the rule', () => {
    const arbPolicy = fc.record({
      identity: fc.constantFrom('a', 'scanners'),
      allowedSenders: fc.array(fc.constantFrom('@x.test', 'a@y.test', '*@*.z.test', '<>'), { maxLength: 3 }),
      allowedRecipientDomains: fc.array(fc.constantFrom('x.test', '*.y.test'), { maxLength: 2 }),
      maxMessageSize: fc.integer({ min: 1, max: 1e6 }),
      maxRecipients: fc.integer({ min: 1, max: 50 }),
      ratePerMinute: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    });
    const addr = fc.oneof(
      fc.constant(''),
      fc
        .tuple(
          fc.stringMatching(/^[a-z0-9.%+-]{1,10}$/),
          fc.constantFrom('x.test', 'y.test', 'a.y.test', 'z.test', 'b.z.test', 'gmail.com'),
        )
        .map(([l, d]) => `${l}@${d}`),
    );
    const facts: fc.Arbitrary<CommandFacts> = fc.oneof(
      fc.record({ stage: fc.constant('mail' as const), mailFrom: addr, rateAvailable: fc.boolean() }),
      fc.record({ stage: fc.constant('rcpt' as const), recipient: addr, acceptedRecipients: fc.nat(60) }),
      fc.record({ stage: fc.constant('data' as const), size: fc.nat(2e6) }),
    );
    fc.assert(
      fc.property(arbPolicy, facts, (p, f) => {
        const d = decide(p as IdentityPolicy, f);
        if (d.kind === 'accept') return;
        expect(d.code).toMatch(/^RELAY_/);
        expect(d.kind === 'tempfail').toBe(d.responseCode < 500);
        expect(d.enhanced[0]).toBe(String(d.responseCode)[0]);
        expect(d.rule.startsWith(`identities.${p.identity}.`)).toBe(true);
      }),
    );
  });

  it('never accepts a recipient outside a non-empty domain list (no open relay)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.domain(), { minLength: 1, maxLength: 3 }),
        fc.emailAddress(),
        (domains, recipient) => {
          const d = decide(policy({ allowedRecipientDomains: domains }), rcpt(recipient));
          const dom = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
          if (d.kind === 'accept') expect(domains.map((x) => x.toLowerCase())).toContain(dom);
        },
      ),
    );
  });

  it('sender matching is case-insensitive and exact entries match only themselves', () => {
    fc.assert(
      fc.property(plainAddress, plainAddress, (a, b) => {
        expect(senderMatches(a, a.toUpperCase())).toBe(true);
        expect(senderMatches(a, b)).toBe(a.toLowerCase() === b.toLowerCase());
      }),
    );
  });

  it('accepts at most maxRecipients recipients', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(80), (max, n) => {
        const d = decide(policy({ maxRecipients: max }), rcpt('a@b.test', n));
        expect(d.kind === 'accept').toBe(n < max);
      }),
    );
    expect(recipientDomainMatches('*.b.test', 'a@b.test')).toBe(false);
  });
});
