// Bad rule configs fail through parseConfig with RELAY_CONFIG_INVALID naming the exact key.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../appliance/src/config/load.ts';
import { configWith, rawConfig } from '../../helpers/routing/factories.ts';

function issuesFor(overrides: Record<string, unknown>): { key: string; message: string }[] {
  try {
    parseConfig(rawConfig(overrides), 'test', '/tmp');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('RELAY_CONFIG_INVALID');
    return [...(err as ConfigError).issues];
  }
  throw new Error('config was accepted');
}

const ok = { name: 'ok', match: { identity: 'scanners' }, action: { route: 'acs' } };
/** Puts `rule` third so paths show the index. */
const third = (rule: unknown) => ({ rules: [ok, { ...ok, name: 'ok2' }, rule] });

describe('rule config errors', () => {
  it.each([
    [
      { name: 'r', match: { mailFrom: 'scanner@@' }, action: { route: 'acs' } },
      'rules[2].match.mailFrom',
      /"scanner@@" is not an address pattern; use an address/,
    ],
    [
      { name: 'r', match: { mailFrom: ['ok@contoso.com', 'a b@c.com'] }, action: { route: 'acs' } },
      'rules[2].match.mailFrom[1]',
      /"a b@c.com" is not an address pattern/,
    ],
    [
      { name: 'r', match: { recipientDomain: '@contoso.com' }, action: { route: 'acs' } },
      'rules[2].match.recipientDomain',
      /write the domain without "@"/,
    ],
    [
      { name: 'r', match: { sourceNetwork: '10.0.0.0/33' }, action: { route: 'acs' } },
      'rules[2].match.sourceNetwork',
      /CIDR range/,
    ],
    [
      { name: 'r', match: { size: {} }, action: { route: 'acs' } },
      'rules[2].match.size',
      /give over, atMost or both/,
    ],
    [
      { name: 'r', match: { size: { over: '10' } }, action: { route: 'acs' } },
      'rules[2].match.size.over',
      /unit/,
    ],
    [
      { name: 'r', match: { header: { name: 'Sub ject', value: 'x' } }, action: { route: 'acs' } },
      'rules[2].match.header.name',
      /header field name/,
    ],
    [
      { name: 'r', match: { sender: 'x@y.z' }, action: { route: 'acs' } },
      'rules[2].match.sender',
      /unknown key/,
    ],
    [
      { name: 'r', match: { identity: 'printers' }, action: { route: 'acs' } },
      'rules[2].match.identity[0]',
      /no identity named "printers"/,
    ],
    [
      { name: 'r', match: {}, action: { route: 'nowhere' } },
      'rules[2].action.route',
      /no route named "nowhere"/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: {} },
      'rules[2].action',
      /needs route, reject, rewriteSender or sendAs/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: { reject: true, route: 'acs' } },
      'rules[2].action.reject',
      /cannot be combined with route/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: { reject: { code: 450 } } },
      'rules[2].action.reject.code',
      /550/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: { reject: { enhanced: '4.7.1' } } },
      'rules[2].action.reject.enhanced',
      /permanent status/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: { reject: { message: 'two\nlines' } } },
      'rules[2].action.reject.message',
      /printable ASCII/,
    ],
    [
      { name: 'r', match: { identity: 'nas' }, action: { sendAs: 'not-an-address' } },
      'rules[2].action.sendAs',
      /e-mail address/,
    ],
    [{ name: 'default', match: { identity: 'nas' }, action: { route: 'acs' } }, 'rules[2].name', /reserved/],
    [
      { name: 'r', match: { authenticated: false, authUser: 'x' }, action: { route: 'acs' } },
      'rules[2].match.authUser',
      /never match/,
    ],
  ])('%j fails at %s', (rule, key, message) => {
    const issues = issuesFor(third(rule));
    expect(issues).toContainEqual({ key, message: expect.stringMatching(message) });
  });

  it('needs acceptedDomains before a rule may use external', () => {
    const issues = issuesFor({
      acceptedDomains: [],
      rules: [{ name: 'x', match: { external: true }, action: { route: 'acs' } }],
    });
    expect(issues).toEqual([
      { key: 'rules[0].match.external', message: expect.stringMatching(/needs acceptedDomains/) },
    ]);
  });

  it('checks acceptedDomains entries', () => {
    expect(issuesFor({ acceptedDomains: ['contoso.com', 'bad domain'] })).toEqual([
      { key: 'acceptedDomains[1]', message: expect.stringMatching(/not a domain pattern/) },
    ]);
  });

  it('names a rule hidden behind a catch-all', () => {
    const issues = issuesFor({
      rules: [ok, { name: 'all', action: { route: 'graph' } }, { ...ok, name: 'late' }],
    });
    expect(issues).toEqual([
      {
        key: 'rules[2]',
        message: 'unreachable: rule "all" (rules[1]) has no conditions and matches everything first',
      },
    ]);
  });

  it('refuses duplicate rule names', () => {
    expect(issuesFor({ rules: [ok, ok] })).toContainEqual({
      key: 'rules[1].name',
      message: 'duplicate name "ok"',
    });
  });

  it('refuses a fallback loop between routes', () => {
    const raw = rawConfig();
    const routes = (raw.routes as Record<string, unknown>[]).map((r) =>
      r.name === 'smarthost' ? { ...r, fallback: 'graph' } : r,
    );
    const issues = issuesFor({ routes });
    expect(issues).toContainEqual({
      key: 'routes[1].fallback',
      message: 'fallback loop: acs → smarthost → graph → acs',
    });
  });

  it('accepts the documented forms and normalises them to lists and bytes', () => {
    const config = configWith({
      rules: [
        {
          name: 'scanners-external',
          match: {
            identity: 'scanners',
            external: true,
            size: { over: '7MB' },
            header: { name: 'X-Tag', value: 'a*' },
          },
          action: { route: 'acs', rewriteSender: 'noreply@contoso.com' },
        },
        { name: 'nas', match: { identity: 'nas' }, action: { reject: true } },
      ],
    });
    expect(config.rules[0]!.match).toEqual({
      identity: ['scanners'],
      external: true,
      size: { over: 7 * 1024 * 1024 },
      header: { name: 'X-Tag', value: ['a*'] },
    });
    expect(config.rules[1]!.action.reject).toEqual({
      code: 550,
      enhanced: '5.7.1',
      message: 'Message refused by relay policy',
    });
  });
});
