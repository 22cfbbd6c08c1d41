import { beforeAll, describe, expect, it } from 'vitest';
import { loadHeaderDecoder } from '../../../appliance/src/routing/patterns.ts';
import {
  compileRules,
  type RouteInput,
  rejectAtRcpt,
  rejectionReply,
  routeMessage,
} from '../../../appliance/src/routing/router.ts';
import { configWith, message, rulesWith } from '../../helpers/routing/factories.ts';

// Header rules decode RFC 2047 text with mime-text.ts, loaded on demand (as the appliance does at start).
beforeAll(loadHeaderDecoder);

/** Routes `input` through a single rule sending matches to acs; returns the route of each recipient. */
function routesUnder(match: Record<string, unknown>, input: Partial<RouteInput>): string[] {
  const rules = rulesWith([{ name: 'r', match, action: { route: 'acs' } }]);
  return routeMessage(rules, message(input)).perRecipient.map((d) =>
    d.type === 'route' ? d.route : 'REJECT',
  );
}

const hits = (match: Record<string, unknown>, input: Partial<RouteInput>) =>
  routesUnder(match, input)[0] === 'acs';

describe('conditions, one at a time', () => {
  it.each([
    [{ identity: 'scanners' }, { identity: 'scanners' }, true],
    [{ identity: ['apps', 'nas'] }, { identity: 'nas' }, true],
    [{ identity: 'apps' }, { identity: 'scanners' }, false],
  ])('identity %j with %j: %s', (match, input, want) => {
    expect(hits(match, input)).toBe(want);
  });

  it.each([
    ['10.1.0.0/16', '10.1.200.3', true],
    ['10.1.0.0/16', '10.2.0.1', false],
    ['10.1.0.0/16', '::ffff:10.1.0.9', true],
    ['192.168.5.7', '192.168.5.7', true],
    ['192.168.5.7', '192.168.5.8', false],
    ['2001:db8:1::/48', '2001:db8:1:ff::2', true],
    ['2001:db8:1::/48', '2001:db8:2::2', false],
    ['10.1.0.0/16', 'not-an-ip', false],
    ['10.1.0.0/16', '', false],
  ])('sourceNetwork %s with %s: %s', (net, ip, want) => {
    expect(hits({ sourceNetwork: net }, { sourceIp: ip })).toBe(want);
  });

  it.each([
    [{ authenticated: true }, 'app1', true],
    [{ authenticated: true }, undefined, false],
    [{ authenticated: false }, undefined, true],
    [{ authenticated: false }, 'app1', false],
    [{ authUser: 'app*' }, 'App1', true],
    [{ authUser: ['svc-*', 'printer'] }, 'printer', true],
    [{ authUser: '*' }, undefined, false],
  ])('%j with authUser %s: %s', (match, authUser, want) => {
    expect(hits(match, { authUser })).toBe(want);
  });

  it.each([
    ['scanner@contoso.com', 'scanner@contoso.com', true],
    ['@contoso.com', 'x@contoso.com', true],
    ['contoso.com', 'x@sub.contoso.com', false],
    ['*@scanners.contoso.com', 'mfd@scanners.contoso.com', true],
    ['<>', '', true],
    ['*@*', '', false],
  ])('mailFrom %s with %s: %s', (pattern, from, want) => {
    expect(hits({ mailFrom: pattern }, { mailFrom: from })).toBe(want);
  });

  it('recipient and recipientDomain decide per recipient', () => {
    const recipients = ['ceo@contoso.com', 'bob@contoso.com', 'x@eu.fabrikam.com', 'postmaster'];
    expect(routesUnder({ recipient: 'ceo@contoso.com' }, { recipients })).toEqual([
      'acs',
      'local',
      'local',
      'local',
    ]);
    expect(routesUnder({ recipientDomain: '*.fabrikam.com' }, { recipients })).toEqual([
      'local',
      'local',
      'acs',
      'local',
    ]);
    expect(routesUnder({ recipientDomain: ['contoso.com'] }, { recipients })).toEqual([
      'acs',
      'acs',
      'local',
      'local',
    ]);
  });

  it('external means outside acceptedDomains; a bare local part is internal', () => {
    const recipients = [
      'a@contoso.com',
      'b@hr.contoso.com',
      'c@fabrikam.com',
      'd@contoso.com.evil.net',
      'postmaster',
    ];
    expect(routesUnder({ external: true }, { recipients })).toEqual([
      'local',
      'local',
      'acs',
      'acs',
      'local',
    ]);
    expect(routesUnder({ external: false }, { recipients })).toEqual(['acs', 'acs', 'local', 'local', 'acs']);
  });

  it.each([
    [{ over: '1MB' }, 1024 * 1024, false],
    [{ over: '1MB' }, 1024 * 1024 + 1, true],
    [{ atMost: '1MB' }, 1024 * 1024, true],
    [{ atMost: '1MB' }, 1024 * 1024 + 1, false],
    [{ over: '1KB', atMost: '2KB' }, 1500, true],
    [{ over: '1KB', atMost: '2KB' }, 3000, false],
  ])('size %j with %d bytes: %s', (size, bytes, want) => {
    expect(hits({ size }, { size: bytes })).toBe(want);
  });

  it.each([
    [{ name: 'subject', value: 'scan*' }, [{ name: 'Subject', value: 'Scan from MFD' }], true],
    [{ name: 'X-Mailer', value: 'Xerox*' }, [{ name: 'Subject', value: 'Xerox' }], false],
    [
      { name: 'X-Tag', value: ['a', 'b'] },
      [
        { name: 'X-Tag', value: 'z' },
        { name: 'x-tag', value: 'b' },
      ],
      true,
    ],
    [{ name: 'Subject', value: '*invoice*' }, [{ name: 'Subject', value: '  Your INVOICE 12 ' }], true],
    [{ name: 'Subject', value: '*' }, [], false],
    [
      { name: 'Subject', value: 'scan von büro' },
      [{ name: 'Subject', value: '=?UTF-8?B?U2NhbiB2b24gQsO8cm8=?=' }],
      true,
    ],
    [
      { name: 'Subject', value: '=?utf-8?b?*' },
      [{ name: 'Subject', value: '=?UTF-8?B?U2NhbiB2b24gQsO8cm8=?=' }],
      true,
    ],
  ])('header %j with %j: %s', (header, headers, want) => {
    expect(hits({ header }, { headers })).toBe(want);
  });

  it('requires every condition of a rule to hold', () => {
    const match = { identity: 'scanners', external: true, size: { over: '5MB' } };
    expect(hits(match, { recipients: ['x@fabrikam.com'], size: 6 * 1024 * 1024 })).toBe(true);
    expect(hits(match, { recipients: ['x@fabrikam.com'], size: 4 * 1024 * 1024 })).toBe(false);
    expect(hits(match, { recipients: ['x@contoso.com'], size: 6 * 1024 * 1024 })).toBe(false);
    expect(hits(match, { identity: 'apps', recipients: ['x@fabrikam.com'], size: 6 * 1024 * 1024 })).toBe(
      false,
    );
  });
});

describe('precedence', () => {
  const rules = rulesWith([
    {
      name: 'ceo',
      match: { recipient: 'ceo@contoso.com' },
      action: { route: 'graph', sendAs: 'ceo@contoso.com' },
    },
    { name: 'no-external-nas', match: { identity: 'nas', external: true }, action: { reject: true } },
    { name: 'big', match: { size: { over: '7MB' } }, action: { route: 'graph' } },
    {
      name: 'external',
      match: { external: true },
      action: { route: 'acs', rewriteSender: 'noreply@contoso.com' },
    },
  ]);

  it('first matching rule wins, in config order', () => {
    const d = routeMessage(rules, message({ recipients: ['ceo@contoso.com'], size: 50 * 1024 * 1024 }));
    expect(d.perRecipient[0]).toMatchObject({ type: 'route', route: 'graph', rule: 'ceo', ruleIndex: 0 });
    const e = routeMessage(rules, message({ recipients: ['x@fabrikam.com'], size: 8 * 1024 * 1024 }));
    expect(e.perRecipient[0]).toMatchObject({ route: 'graph', rule: 'big' });
    const f = routeMessage(rules, message({ recipients: ['x@fabrikam.com'], size: 1000 }));
    expect(f.perRecipient[0]).toMatchObject({
      route: 'acs',
      rule: 'external',
      mailFrom: 'noreply@contoso.com',
    });
  });

  it('a reject earlier in the list beats a route later', () => {
    const d = routeMessage(rules, message({ identity: 'nas', recipients: ['x@fabrikam.com'], size: 9e6 }));
    expect(d.legs).toEqual([]);
    expect(d.rejections).toEqual([
      {
        recipients: ['x@fabrikam.com'],
        rule: 'no-external-nas',
        responseCode: 550,
        enhanced: '5.7.1',
        message: 'Message refused by relay policy',
      },
    ]);
  });

  it('the default route takes what no rule matched, under the rule name "default"', () => {
    const d = routeMessage(rules, message({ recipients: ['bob@contoso.com'] }));
    expect(d.legs).toEqual([{ route: 'local', recipients: ['bob@contoso.com'], rule: 'default' }]);
    expect(d.perRecipient[0]).toMatchObject({ reasons: ['no rule matched'], ruleIndex: -1 });
  });

  it('splits one message into legs per rule, keeping recipient order inside each', () => {
    const d = routeMessage(
      rules,
      message({
        identity: 'nas',
        recipients: ['a@fabrikam.com', 'ceo@contoso.com', 'b@contoso.com', 'c@fabrikam.com', 'd@contoso.com'],
      }),
    );
    expect(d.legs).toEqual([
      { route: 'graph', recipients: ['ceo@contoso.com'], rule: 'ceo', sendAs: 'ceo@contoso.com' },
      { route: 'local', recipients: ['b@contoso.com', 'd@contoso.com'], rule: 'default' },
    ]);
    expect(d.rejections.map((r) => [r.rule, r.recipients])).toEqual([
      ['no-external-nas', ['a@fabrikam.com', 'c@fabrikam.com']],
    ]);
  });

  it('an action without route uses the default route with its modifiers', () => {
    const r = rulesWith([
      { name: 'as-printer', match: { identity: 'scanners' }, action: { sendAs: 'printer@contoso.com' } },
    ]);
    expect(routeMessage(r, message()).legs).toEqual([
      {
        route: 'local',
        recipients: ['alice@contoso.com'],
        rule: 'as-printer',
        sendAs: 'printer@contoso.com',
      },
    ]);
  });

  it('reports the fallback chain of the chosen route', () => {
    const d = routeMessage(rules, message({ recipients: ['ceo@contoso.com'] }));
    expect(d.perRecipient[0]).toMatchObject({ fallbacks: ['acs', 'smarthost'] });
  });

  it('uses a custom reject reply as configured', () => {
    const r = rulesWith([
      {
        name: 'too-big',
        match: { size: { over: '10MB' } },
        action: { reject: { code: 552, enhanced: '5.3.4', message: 'Too large for this relay' } },
      },
    ]);
    const d = routeMessage(r, message({ size: 11 * 1024 * 1024 }));
    expect(d.rejections[0]).toMatchObject({
      responseCode: 552,
      enhanced: '5.3.4',
      message: 'Too large for this relay',
    });
    expect(rejectionReply(d.rejections[0]!)).toEqual({
      responseCode: 552,
      message: '5.3.4 Too large for this relay',
    });
  });
});

describe('rejectAtRcpt', () => {
  const rules = rulesWith([
    { name: 'big-external', match: { external: true, size: { over: '7MB' } }, action: { reject: true } },
    {
      name: 'evil',
      match: { mailFrom: '*@evil.example' },
      action: { reject: { code: 553, message: 'Sender not allowed' } },
    },
    { name: 'subject', match: { header: { name: 'Subject', value: 'spam*' } }, action: { route: 'acs' } },
    { name: 'no-external-nas', match: { identity: 'nas', external: true }, action: { reject: true } },
  ]);
  const at = (over: Record<string, unknown>) =>
    rejectAtRcpt(rules, {
      identity: 'scanners',
      sourceIp: '10.1.2.3',
      mailFrom: 'a@contoso.com',
      recipient: 'x@contoso.com',
      ...over,
    });

  it('rejects when a rule that needs no content certainly rejects first', () => {
    expect(at({ mailFrom: 'm@evil.example' })).toEqual({
      recipients: ['x@contoso.com'],
      rule: 'evil',
      responseCode: 553,
      enhanced: '5.7.1',
      message: 'Sender not allowed',
    });
  });

  it('skips content rules that already fail on known facts', () => {
    // big-external needs an external recipient; x@contoso.com is internal, so the walk goes on.
    expect(at({ mailFrom: 'm@evil.example', recipient: 'x@contoso.com' })?.rule).toBe('evil');
  });

  it('waits for DATA when a rule before the reject depends on size or headers', () => {
    expect(at({ mailFrom: 'm@evil.example', recipient: 'x@fabrikam.com' })).toBeUndefined();
    expect(at({ identity: 'nas', recipient: 'x@fabrikam.com' })).toBeUndefined();
  });

  it('accepts when a route rule or the default decides', () => {
    expect(at({})).toBeUndefined();
    expect(at({ identity: 'nas', recipient: 'x@contoso.com' })).toBeUndefined();
  });

  it('agrees with routeMessage once the content is known', () => {
    const input = { identity: 'scanners', sourceIp: '10.1.2.3', mailFrom: 'm@evil.example' };
    const early = rejectAtRcpt(rules, { ...input, recipient: 'x@contoso.com' });
    const later = routeMessage(rules, { ...input, recipients: ['x@contoso.com'], size: 1, headers: [] });
    expect(later.rejections).toEqual([early]);
  });
});

describe('compileRules', () => {
  it('refuses a hand-made config whose rule names a missing route', () => {
    const config = configWith({ rules: [{ name: 'r', action: { route: 'acs' } }] });
    const broken = { ...config, rules: [{ ...config.rules[0]!, action: { route: 'nowhere' } }] };
    expect(() => compileRules(broken)).toThrow(expect.objectContaining({ code: 'RELAY_CONFIG_REFERENCE' }));
  });
});
