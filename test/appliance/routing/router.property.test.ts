// Properties of the router over generated rule lists and messages: every recipient gets exactly one
// decision, splits lose and duplicate nothing, the result is deterministic and order-independent per
// recipient, the first matching rule decides, and an RCPT-time rejection is never contradicted later.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../appliance/src/routing/explain.ts';
import { type RouteInput, rejectAtRcpt, routeMessage } from '../../../appliance/src/routing/router.ts';
import { rulesWith } from '../../helpers/routing/factories.ts';

const sub = <T>(items: readonly T[]) => fc.subarray([...items], { minLength: 1 });

const conditionArbs: Record<string, fc.Arbitrary<unknown>> = {
  identity: sub(['scanners', 'apps', 'nas']),
  sourceNetwork: sub(['10.1.0.0/16', '192.168.5.7', '2001:db8:1::/48']),
  authenticated: fc.boolean(),
  authUser: sub(['app*', 'printer', '*']),
  mailFrom: sub(['*@contoso.com', '<>', 'scanner@contoso.com', '@fabrikam.com', '*@*.contoso.com']),
  recipient: sub(['ceo@contoso.com', '*@fabrikam.com']),
  recipientDomain: sub(['contoso.com', '*.contoso.com', 'fabrikam.com', 'example.org']),
  external: fc.boolean(),
  size: fc.constantFrom({ over: '1KB' }, { atMost: '1KB' }, { over: '1KB', atMost: '10MB' }),
  header: fc.record({
    name: fc.constantFrom('Subject', 'x-mailer'),
    value: sub(['scan*', '*invoice*', 'Xerox*']),
  }),
};

// One to three conditions per rule, so rules match often enough for the properties to bite.
const matchArb = fc
  .uniqueArray(fc.constantFrom(...Object.keys(conditionArbs)), { minLength: 1, maxLength: 3 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, conditionArbs[k]!]))))
  .filter((m) => !(m.authenticated === false && m.authUser !== undefined));

const actionArb = fc.oneof(
  fc.record({ route: fc.constantFrom('local', 'acs', 'graph', 'smarthost') }),
  fc.record({ route: fc.constantFrom('acs', 'graph'), rewriteSender: fc.constant('noreply@contoso.com') }),
  fc.record({ sendAs: fc.constant('printer@contoso.com') }),
  fc.constant({ reject: true }),
  fc.constant({ reject: { code: 552, enhanced: '5.3.4', message: 'Too large' } }),
);

const rulesArb = fc
  .array(fc.record({ match: matchArb, action: actionArb }), { maxLength: 8 })
  .map((list) => list.map((r, i) => ({ name: `r${i}`, ...r })));

const recipientArb = fc.constantFrom(
  'ceo@contoso.com',
  'bob@contoso.com',
  'x@hr.contoso.com',
  'ext@fabrikam.com',
  'someone@example.org',
  'postmaster',
  'UPPER@Contoso.COM',
);

const inputArb: fc.Arbitrary<RouteInput> = fc.record({
  identity: fc.constantFrom('scanners', 'apps', 'nas', ''),
  sourceIp: fc.constantFrom('10.1.2.3', '::ffff:10.1.9.9', '192.168.5.7', '2001:db8:1::5', '203.0.113.9'),
  authUser: fc.option(fc.constantFrom('app1', 'printer', 'svc'), { nil: undefined }),
  mailFrom: fc.constantFrom('scanner@contoso.com', '', 'x@fabrikam.com', 'mfd@floor2.contoso.com'),
  recipients: fc.array(recipientArb, { minLength: 1, maxLength: 10 }),
  size: fc.constantFrom(0, 1024, 1025, 10 * 1024 * 1024, 11 * 1024 * 1024),
  headers: fc.subarray([
    { name: 'Subject', value: 'Scan from MFD' },
    { name: 'Subject', value: 'Your invoice 42' },
    { name: 'X-Mailer', value: 'Xerox WorkCentre' },
  ]),
});

/**
 * Which generated inputs each generated pattern matches, written out from appliance/docs/routing.md
 * (globs anchored and case-insensitive, `@domain` = any address at that domain, `<>` the null sender
 * only, `*.domain` every subdomain but not the domain, IPv4-mapped IPv6 counts as IPv4, acceptedDomains
 * contoso.com and *.contoso.com from the factory, sizes binary: 1KB = 1024 B, 10MB = 10485760 B). The
 * router's own condition code is not consulted, so a wrong match there fails the property.
 */
const MATCHES: Record<string, Record<string, readonly string[]>> = {
  sourceNetwork: {
    '10.1.0.0/16': ['10.1.2.3', '::ffff:10.1.9.9'],
    '192.168.5.7': ['192.168.5.7'],
    '2001:db8:1::/48': ['2001:db8:1::5'],
  },
  authUser: { 'app*': ['app1'], printer: ['printer'], '*': ['app1', 'printer', 'svc'] },
  mailFrom: {
    '*@contoso.com': ['scanner@contoso.com'],
    '<>': [''],
    'scanner@contoso.com': ['scanner@contoso.com'],
    '@fabrikam.com': ['x@fabrikam.com'],
    '*@*.contoso.com': ['mfd@floor2.contoso.com'],
  },
  recipient: { 'ceo@contoso.com': ['ceo@contoso.com'], '*@fabrikam.com': ['ext@fabrikam.com'] },
  recipientDomain: {
    'contoso.com': ['ceo@contoso.com', 'bob@contoso.com', 'UPPER@Contoso.COM'],
    '*.contoso.com': ['x@hr.contoso.com'],
    'fabrikam.com': ['ext@fabrikam.com'],
    'example.org': ['someone@example.org'],
  },
  headerValue: {
    'scan*': ['Scan from MFD'],
    '*invoice*': ['Your invoice 42'],
    'Xerox*': ['Xerox WorkCentre'],
  },
};
const EXTERNAL_RECIPIENTS = ['ext@fabrikam.com', 'someone@example.org'];

function anyMatch(kind: string, patterns: unknown, value: string | undefined): boolean {
  return (
    value !== undefined && (patterns as string[]).some((p) => (MATCHES[kind]?.[p] ?? []).includes(value))
  );
}

/** Whether a generated rule's conditions all hold for one recipient, by the documented semantics. */
function documentedHolds(match: Record<string, unknown>, input: RouteInput, recipient: string): boolean {
  const size = match.size as { over?: string; atMost?: string } | undefined;
  const header = match.header as { name: string; value: string[] } | undefined;
  const bytes: Record<string, number> = { '1KB': 1024, '10MB': 10_485_760 };
  const checks: Record<string, () => boolean> = {
    identity: () => (match.identity as string[]).includes(input.identity),
    sourceNetwork: () => anyMatch('sourceNetwork', match.sourceNetwork, input.sourceIp),
    authenticated: () => (input.authUser !== undefined) === match.authenticated,
    authUser: () => anyMatch('authUser', match.authUser, input.authUser),
    mailFrom: () => anyMatch('mailFrom', match.mailFrom, input.mailFrom),
    recipient: () => anyMatch('recipient', match.recipient, recipient),
    recipientDomain: () => anyMatch('recipientDomain', match.recipientDomain, recipient),
    external: () => EXTERNAL_RECIPIENTS.includes(recipient) === match.external,
    size: () =>
      (size?.over === undefined || input.size > (bytes[size.over] ?? Number.NaN)) &&
      (size?.atMost === undefined || input.size <= (bytes[size.atMost] ?? Number.NaN)),
    header: () =>
      input.headers.some(
        (h) =>
          h.name.toLowerCase() === header?.name.toLowerCase() &&
          anyMatch('headerValue', header.value, h.value),
      ),
  };
  return Object.keys(match).every((k) => {
    const check = checks[k];
    if (check === undefined) throw new Error(`no documented semantics written for condition ${k}`);
    return check();
  });
}

const compiledArb = rulesArb.map((rules) => ({ rules, compiled: rulesWith(rules) }));

function multiset(items: readonly string[]): string[] {
  return [...items].sort();
}

function allRecipients(d: ReturnType<typeof routeMessage>): string[] {
  return [...d.legs.flatMap((l) => l.recipients), ...d.rejections.flatMap((r) => r.recipients)];
}

const runs = { numRuns: 500 };

describe('router properties', () => {
  it('gives every recipient exactly one decision, in input order', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, ({ compiled }, input) => {
        const d = routeMessage(compiled, input);
        expect(d.perRecipient.map((p) => p.recipient)).toEqual(input.recipients);
      }),
      runs,
    );
  });

  it('loses and duplicates no recipient when splitting into legs and rejections', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, ({ compiled }, input) => {
        const d = routeMessage(compiled, input);
        expect(multiset(allRecipients(d))).toEqual(multiset(input.recipients));
        for (const leg of d.legs) expect(leg.recipients.length).toBeGreaterThan(0);
        for (const r of d.rejections) expect(r.recipients.length).toBeGreaterThan(0);
        // Each leg and rejection carries the decision of each of its recipients.
        const perRule = new Map(d.perRecipient.map((p) => [p.rule, p]));
        for (const leg of d.legs)
          expect(perRule.get(leg.rule)).toMatchObject({ type: 'route', route: leg.route });
        for (const r of d.rejections) expect(perRule.get(r.rule)).toMatchObject({ type: 'reject' });
      }),
      runs,
    );
  });

  it('is deterministic and decides each recipient independently of the others', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, fc.nat(), ({ compiled }, input, seed) => {
        const a = routeMessage(compiled, input);
        expect(routeMessage(compiled, input)).toEqual(a);
        const shuffled = [...input.recipients].sort(
          (x, y) => ((x.length * 31 + seed) % 7) - ((y.length * 31 + seed) % 7),
        );
        const b = routeMessage(compiled, { ...input, recipients: shuffled });
        const byRecipient = new Map(a.perRecipient.map((p) => [p.recipient, p]));
        for (const p of b.perRecipient) expect(p).toEqual(byRecipient.get(p.recipient));
        for (const r of input.recipients) {
          const alone = routeMessage(compiled, { ...input, recipients: [r] });
          expect(alone.perRecipient[0]).toEqual(byRecipient.get(r));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('decides by the first rule whose every condition holds', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, ({ rules, compiled }, input) => {
        const d = routeMessage(compiled, input);
        for (const p of d.perRecipient) {
          const first = rules.findIndex((rule) => documentedHolds(rule.match, input, p.recipient));
          expect(p.ruleIndex).toBe(first);
          if (first === -1) expect(p).toMatchObject({ type: 'route', route: 'local', rule: 'default' });
        }
      }),
      runs,
    );
  });

  it('routes everything somewhere when no rule rejects (the default catches all)', () => {
    const routingOnly = rulesArb.map((rules) => rules.filter((r) => !('reject' in r.action)));
    fc.assert(
      fc.property(routingOnly, inputArb, (rules, input) => {
        const d = routeMessage(rulesWith(rules), input);
        expect(d.rejections).toEqual([]);
        expect(multiset(d.legs.flatMap((l) => l.recipients))).toEqual(multiset(input.recipients));
      }),
      runs,
    );
  });

  it('with no rules, sends the whole message to the default route as one leg', () => {
    const none = rulesWith([]);
    fc.assert(
      fc.property(inputArb, (input) => {
        expect(routeMessage(none, input).legs).toEqual([
          { route: 'local', recipients: [...input.recipients], rule: 'default' },
        ]);
      }),
    );
  });

  it('never contradicts an RCPT-time rejection after DATA, whatever the content', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, inputArb, ({ compiled }, input, content) => {
        for (const recipient of input.recipients) {
          const early = rejectAtRcpt(compiled, { ...input, recipient });
          if (early === undefined) continue;
          const later = routeMessage(compiled, {
            ...input,
            recipients: [recipient],
            size: content.size,
            headers: content.headers,
          });
          expect(later.rejections).toEqual([early]);
        }
      }),
      runs,
    );
  });
});

describe('route explain agrees with the router', () => {
  it('shows the same legs and the same rejected recipients, and RCPT stage only when rejectAtRcpt says so', () => {
    fc.assert(
      fc.property(compiledArb, inputArb, ({ compiled }, input) => {
        const ex = explainRoute(compiled, input);
        const d = routeMessage(compiled, input);
        expect(ex.legs.map(({ route, rule, recipients }) => ({ route, rule, recipients }))).toEqual(
          d.legs.map(({ route, rule, recipients }) => ({ route, rule, recipients })),
        );
        expect(multiset(ex.rejections.flatMap((r) => r.recipients))).toEqual(
          multiset(d.rejections.flatMap((r) => r.recipients)),
        );
        for (const r of ex.rejections) {
          for (const recipient of r.recipients) {
            expect(rejectAtRcpt(compiled, { ...input, recipient }) !== undefined).toBe(r.at === 'RCPT');
          }
        }
      }),
      runs,
    );
  });
});

describe('property generators', () => {
  it('produce rule decisions, rejections and RCPT-time rejections, not just the default', () => {
    let decisions = 0;
    let byRule = 0;
    let rejected = 0;
    let early = 0;
    for (const [{ compiled }, input] of fc.sample(fc.tuple(compiledArb, inputArb), 300)) {
      for (const p of routeMessage(compiled, input).perRecipient) {
        decisions++;
        if (p.ruleIndex >= 0) byRule++;
        if (p.type === 'reject') rejected++;
        if (rejectAtRcpt(compiled, { ...input, recipient: p.recipient })) early++;
      }
    }
    expect(byRule / decisions).toBeGreaterThan(0.3);
    expect(rejected / decisions).toBeGreaterThan(0.05);
    expect(early / decisions).toBeGreaterThan(0.02);
  });
});
