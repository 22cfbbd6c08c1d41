// Identity networks and rule sourceNetwork ranges: a range with host bits set is a config error that
// names the key and the network meant; valid forms (a /n network, one address, IPv6, mapped IPv4)
// load and match.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../appliance/src/config/load.ts';
import { cidrContains, networkProblem, parseCidr, parseIp } from '../../../appliance/src/config/networks.ts';
import { rawConfig } from '../../helpers/routing/factories.ts';

function issuesFor(overrides: Record<string, unknown>): { key: string; message: string }[] {
  try {
    parseConfig(rawConfig(overrides), 'test', '/tmp');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('config was accepted');
}

describe('host bits set', () => {
  it('in an identity network: names the key and the network', () => {
    const issues = issuesFor({
      identities: [{ name: 'scanners', networks: ['10.1.0.0/16', '10.1.2.3/16'] }],
    });
    expect(issues).toEqual([
      {
        key: 'identities[0].networks[1]',
        message:
          '"10.1.2.3/16" has host bits set; write the network 10.1.0.0/16, or the one address 10.1.2.3',
      },
    ]);
  });

  it('in a rule sourceNetwork list, IPv6 too', () => {
    const issues = issuesFor({
      rules: [
        {
          name: 'r',
          match: { sourceNetwork: ['2001:db8:1::/48', '2001:db8:1::5/48'] },
          action: { route: 'acs' },
        },
      ],
    });
    expect(issues).toEqual([
      {
        key: 'rules[0].match.sourceNetwork[1]',
        message:
          '"2001:db8:1::5/48" has host bits set; write the network 2001:db8:1::/48, or the one address 2001:db8:1::5',
      },
    ]);
  });

  it('every bad range is named, not just the first', () => {
    const issues = issuesFor({
      identities: [{ name: 'scanners', networks: ['192.168.1.1/24', 'not-an-ip', '10.0.0.0/8'] }],
    });
    expect(issues.map((i) => i.key)).toEqual(['identities[0].networks[0]', 'identities[0].networks[1]']);
    expect(issues[1]?.message).toMatch(/must be an IP address or CIDR range/);
  });
});

describe('valid ranges', () => {
  it.each([
    '10.1.0.0/16',
    '10.1.2.3',
    '10.1.2.3/32',
    '0.0.0.0/0',
    '2001:db8::/32',
    '::1',
    '::ffff:10.0.0.0/104',
  ])('%s is accepted', (text) => {
    expect(networkProblem(text)).toBeUndefined();
  });

  it('a mapped IPv4 range is the IPv4 range it maps', () => {
    const net = parseCidr('::ffff:10.0.0.0/104')!;
    expect(cidrContains(net, parseIp('10.200.1.1')!)).toBe(true);
    expect(cidrContains(net, parseIp('11.0.0.1')!)).toBe(false);
  });
});
