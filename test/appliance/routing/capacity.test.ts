// What each route can carry (routing/capacity.ts): the declared limits of each transport, taken from
// the documented service limits (reference A3/A4, B4, C3), and the plan decision over a route and its
// fallbacks, checked example by example and as properties over generated limits and messages.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CarryVerdict,
  canCarry,
  capacityOf,
  type MessageShape,
  planCarries,
  type RouteCapacity,
  routeCapacities,
} from '../../../appliance/src/routing/capacity.ts';
import { configWith } from '../../helpers/routing/factories.ts';

const MiB = 1024 * 1024;

const graph = {
  name: 'm365',
  type: 'graph',
  tenantId: 'contoso.onmicrosoft.com',
  clientId: 'app',
  clientSecret: 'graph-secret',
};
const acs = {
  name: 'acs-mail',
  type: 'acs',
  endpoint: 'https://contoso.communication.azure.com',
  auth: { type: 'accessKey', connectionString: 'acs-conn' },
  senderAddress: 'DoNotReply@contoso.com',
};
const smtpAcs = { name: 'acs-smtp', type: 'smtp', preset: 'acs', auth: { type: 'none' }, tls: {} };
const capture = { name: 'local', type: 'capture', directory: '/tmp/relaykit-test/local' };

function caps(routes: Record<string, unknown>[]): Map<string, RouteCapacity> {
  return routeCapacities(configWith({ routes, defaultRoute: routes[0]?.name }).routes);
}

describe('declared route limits', () => {
  it('Graph: ~3 MB of body per draft request, 150 MB per message, 500 recipients', () => {
    const c = caps([graph]).get('m365');
    // Reference A3: the draft request has the same ~4 MB ceiling; 3 MB raw is the safe budget.
    expect(c).toMatchObject({ maxBodySize: 3 * MiB, maxMessageSize: 150 * MiB, maxRecipients: 500 });
    expect(c?.bodyAsAttachment).toBe(false);
  });

  it('Graph without the draft path carries only what one sendMail takes; with attach, big bodies go', () => {
    const off = caps([{ ...graph, largeMessages: false }]).get('m365');
    expect(off?.maxMessageSize).toBe(2.5 * MiB);
    expect(off?.maxBodySize).toBeUndefined();
    expect(caps([{ ...graph, oversizeBody: 'attach' }]).get('m365')?.bodyAsAttachment).toBe(true);
  });

  it('ACS: a 10 MB request with JSON headroom, recipients split per request; ACS SMTP 10 MB', () => {
    const c = caps([acs, smtpAcs]);
    expect(c.get('acs-mail')?.maxMessageSize).toBe(Math.floor((10 * MiB) / 1.05));
    expect(c.get('acs-mail')?.maxRecipients).toBeUndefined();
    expect(c.get('acs-smtp')?.maxMessageSize).toBe(10 * MiB);
    expect(c.get('acs-mail')?.maxBodySize).toBeUndefined();
  });

  it('capture has no limit', () => {
    expect(capacityOf(configWith().routes[0]!)).toEqual({
      route: 'local',
      type: 'capture',
      bodyAsAttachment: false,
    });
  });
});

describe('planCarries', () => {
  const c = caps([graph, acs, capture]);
  const shape = (size: number, bodySize = size, recipients = 1): MessageShape => ({
    size,
    bodySize,
    recipients,
  });

  it('a 5 MB single-part body: not Graph, but its ACS fallback', () => {
    const m = shape(5 * MiB);
    expect(planCarries(['m365'], c, m)).toMatchObject({ ok: false, responseCode: 552, enhanced: '5.3.4' });
    expect(planCarries(['m365', 'acs-mail'], c, m)).toEqual({
      ok: true,
      route: 'acs-mail',
      asAttachment: false,
    });
  });

  it('a 20 MB body through Graph then ACS: 552 naming both limits', () => {
    const v = planCarries(['m365', 'acs-mail'], c, shape(20 * MiB));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toBe(
      `Message cannot be delivered: route m365 takes a body size of at most 3145728 bytes (this one is ${20 * MiB}); ` +
        `route acs-mail takes a message size of at most ${Math.floor((10 * MiB) / 1.05)} bytes (this one is ${20 * MiB})`,
    );
  });

  it('a 20 MB attachment with a small body goes through Graph', () => {
    expect(planCarries(['m365'], c, shape(20 * MiB, 2000))).toMatchObject({ ok: true, route: 'm365' });
  });

  it('too many recipients for every route: 550 5.5.3', () => {
    expect(planCarries(['m365'], c, shape(1000, 1000, 501))).toMatchObject({
      ok: false,
      responseCode: 550,
      enhanced: '5.5.3',
      limit: 'recipients',
    });
    expect(planCarries(['m365', 'acs-mail'], c, shape(1000, 1000, 501))).toMatchObject({ ok: true });
  });
});

describe('planCarries properties', () => {
  const limit = fc.option(fc.integer({ min: 1, max: 50_000_000 }), { nil: undefined });
  const capArb = fc.record({
    maxMessageSize: limit,
    maxBodySize: limit,
    maxRecipients: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
    bodyAsAttachment: fc.boolean(),
  });
  const shapeArb = fc
    .record({
      size: fc.integer({ min: 1, max: 60_000_000 }),
      frac: fc.double({ min: 0, max: 1, noNaN: true }),
      recipients: fc.integer({ min: 1, max: 1200 }),
    })
    .map(({ size, frac, recipients }) => ({ size, bodySize: Math.floor(size * frac), recipients }));
  const chainArb = fc.array(capArb, { minLength: 1, maxLength: 4 }).map((list) => {
    const m = new Map<string, RouteCapacity>();
    list.forEach((cap, i) => {
      const clean = Object.fromEntries(Object.entries(cap).filter(([, v]) => v !== undefined));
      m.set(`r${i}`, { route: `r${i}`, type: 'graph', ...clean } as RouteCapacity);
    });
    return m;
  });
  const breaks = (cap: RouteCapacity, m: MessageShape) =>
    (cap.maxMessageSize !== undefined && m.size > cap.maxMessageSize) ||
    (cap.maxRecipients !== undefined && m.recipients > cap.maxRecipients) ||
    (cap.maxBodySize !== undefined && m.bodySize > cap.maxBodySize && !cap.bodyAsAttachment);

  it('accepts exactly when some route holds every limit, and picks the first such route', () => {
    fc.assert(
      fc.property(chainArb, shapeArb, (m, s) => {
        const chain = [...m.keys()];
        const v = planCarries(chain, m, s);
        const first = chain.find((r) => !breaks(m.get(r)!, s));
        expect(v.ok).toBe(first !== undefined);
        if (v.ok) expect(v.route).toBe(first);
        else for (const r of chain) expect(v.message).toContain(`route ${r} takes`);
      }),
    );
  });

  it('is monotone: what is carried stays carried when the message shrinks', () => {
    fc.assert(
      fc.property(chainArb, shapeArb, fc.double({ min: 0, max: 1, noNaN: true }), (m, s, k) => {
        const chain = [...m.keys()];
        const smaller = {
          size: Math.floor(s.size * k),
          bodySize: Math.floor(s.bodySize * k),
          recipients: Math.max(1, Math.floor(s.recipients * k)),
        };
        if (planCarries(chain, m, s).ok) expect(planCarries(chain, m, smaller).ok).toBe(true);
      }),
    );
  });

  it('a body carried as an attachment is only ever one over the body limit', () => {
    fc.assert(
      fc.property(capArb, shapeArb, (cap, s) => {
        const v: CarryVerdict = canCarry({ route: 'r', type: 'graph', ...cap } as RouteCapacity, s);
        if (v.ok && v.asAttachment) {
          expect(cap.bodyAsAttachment).toBe(true);
          expect(s.bodySize).toBeGreaterThan(cap.maxBodySize!);
        }
      }),
    );
  });
});
