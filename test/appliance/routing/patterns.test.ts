import { BlockList } from 'node:net';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { cidrContains, normalizeIp, parseCidr, parseIp } from '../../../appliance/src/config/networks.ts';
import { checkDomainPattern, parseAddressPattern } from '../../../appliance/src/config/rule-patterns.ts';
import {
  decodeHeaderValue,
  globMatch,
  loadHeaderDecoder,
  MAX_MATCH_INPUT,
  matchAddress,
} from '../../../appliance/src/routing/patterns.ts';

// Header rules decode RFC 2047 text with mime-text.ts, loaded on demand (as the appliance does at start).
beforeAll(loadHeaderDecoder);

function addressPattern(text: string) {
  const p = parseAddressPattern(text);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

describe('globMatch', () => {
  it.each([
    ['*', '', true],
    ['*', 'anything at all', true],
    ['scan*', 'scanner', true],
    ['scan*', 'xscanner', false],
    ['*.contoso.com', 'a.b.contoso.com', true],
    ['*.contoso.com', 'contoso.com', false],
    ['*.contoso.com', 'evilcontoso.com', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*[scan]*', 'report [SCAN] 12', true],
    ['x*y*z', 'xyz', true],
    ['x*y*z', 'xzy', false],
  ])('%s against %s is %s', (pattern, text, want) => {
    expect(globMatch(pattern.toLowerCase(), text)).toBe(want);
  });

  it('is case-insensitive on the text', () => {
    expect(globMatch('scan*', 'SCANNER')).toBe(true);
  });

  it('agrees with an anchored regular expression built from the glob', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '@');
    const pattern = fc
      .array(fc.constantFrom('a', 'b', '.', '*', '?'), { maxLength: 8 })
      .map((a) => a.join(''));
    const text = fc.array(alphabet, { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        const re = new RegExp(
          `^${[...p].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c === '.' ? '\\.' : c)).join('')}$`,
          's',
        );
        expect(globMatch(p, t)).toBe(re.test(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('looks only at the first MAX_MATCH_INPUT characters of a long value', () => {
    const long = `${'a'.repeat(MAX_MATCH_INPUT)}TAIL`;
    expect(globMatch('*tail', long)).toBe(false);
    expect(globMatch('a*', long)).toBe(true);
    // The shape that makes backtracking regexes explode answers like any other.
    expect(globMatch('*a*a*a*a*a*a*b', 'a'.repeat(MAX_MATCH_INPUT))).toBe(false);
  });
});

describe('address patterns', () => {
  it.each([
    ['scanner@contoso.com', 'scanner@contoso.com', true],
    ['scanner@contoso.com', 'Scanner@Contoso.COM', true],
    ['scanner@contoso.com', 'scanner2@contoso.com', false],
    ['@contoso.com', 'anyone@contoso.com', true],
    ['@contoso.com', 'anyone@sub.contoso.com', false],
    ['contoso.com', 'anyone@contoso.com', true],
    ['contoso.com', 'anyone@contoso.com.', true],
    ['*@scanners.contoso.com', 'mfd1@scanners.contoso.com', true],
    ['*@scanners.contoso.com', 'mfd1@contoso.com', false],
    ['*@*.contoso.com', 'x@a.contoso.com', true],
    ['*@*.contoso.com', 'x@contoso.com', false],
    ['scan-*@contoso.com', 'scan-3rd-floor@contoso.com', true],
    ['scan-*@contoso.com', 'printer@contoso.com', false],
    ['<>', '', true],
    ['<>', 'a@b.c', false],
    ['*@*', '', false],
    ['@contoso.com', '', false],
  ])('%s matches %s: %s', (pattern, address, want) => {
    expect(matchAddress(addressPattern(pattern), address)).toBe(want);
  });

  it.each([
    ['', /null sender/],
    ['a@', /not an address pattern/],
    ['a b@contoso.com', /not an address pattern/],
    ['<scanner@contoso.com>', /not an address pattern/],
    ['x@.contoso.com', /not an address pattern/],
    ['x@contoso..com', /not an address pattern/],
    [`${'a'.repeat(300)}@x.com`, /longer than 256/],
  ])('refuses %j', (text, why) => {
    const p = parseAddressPattern(text);
    expect(typeof p).toBe('string');
    expect(p).toMatch(why);
  });

  it('names the fix for a domain pattern written with @', () => {
    expect(checkDomainPattern('@contoso.com')).toBe('write the domain without "@" ("contoso.com")');
    expect(checkDomainPattern('*.contoso.com')).toBeUndefined();
    expect(checkDomainPattern('.contoso.com')).toMatch(/\*\.contoso\.com \(subdomains\)/);
  });
});

describe('normalizeIp', () => {
  it('unwraps IPv4-mapped IPv6 and leaves others alone', () => {
    expect(normalizeIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeIp('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeIp('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeIp('10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('decodeHeaderValue', () => {
  it.each([
    ['plain text', 'plain text'],
    ['=?UTF-8?B?U2NhbiB2b24gQsO8cm8=?=', 'Scan von Büro'],
    ['=?iso-8859-1?Q?Rechnung_f=FCr_M=E4rz?=', 'Rechnung für März'],
    ['=?utf-8?q?a?= =?utf-8?q?b?=', 'ab'],
    ['Re: =?utf-8*de?Q?Gr=C3=BC=C3=9Fe?= again', 'Re: Grüße again'],
    ['=?x-unknown-charset?Q?abc?=', '=?x-unknown-charset?Q?abc?='],
  ])('%s → %s', (raw, decoded) => {
    expect(decodeHeaderValue(raw)).toBe(decoded);
  });
});

describe('parseIp and CIDR matching', () => {
  it.each([
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::ffff:10.1.2.3', [10, 1, 2, 3]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    [
      '2001:db8::8:800:200c:417a',
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20, 0x0c, 0x41, 0x7a],
    ],
    ['64:ff9b::192.0.2.33', [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 33]],
    ['fe80::1%eth0', [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
  ])('parses %s', (text, bytes) => {
    expect([...(parseIp(text)?.bytes ?? [])]).toEqual(bytes);
  });

  it('refuses what is not an address', () => {
    expect(parseIp('')).toBeUndefined();
    expect(parseIp('10.1.2')).toBeUndefined();
    expect(parseIp('scanner.local')).toBeUndefined();
  });

  it('agrees with node:net BlockList on random addresses and ranges', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    const v6 = fc
      .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
      .map((g) => g.map((x) => x.toString(16)).join(':'));
    const near = (base: string) => fc.constantFrom(base);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(v4, fc.nat(32), v4, fc.constant('ipv4' as const)),
          fc.tuple(v6, fc.nat(128), v6, fc.constant('ipv6' as const)),
          // Addresses inside the range often enough to exercise the positive side.
          v4.chain((a) =>
            fc.tuple(near(a), fc.nat(32), near(a.replace(/\d+$/, '7')), fc.constant('ipv4' as const)),
          ),
        ),
        ([net, bits, addr, family]) => {
          const list = new BlockList();
          list.addSubnet(net, bits, family);
          const cidr = parseCidr(`${net}/${bits}`)!;
          expect(cidrContains(cidr, parseIp(addr)!)).toBe(list.check(addr, family));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never matches across families', () => {
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('::1')!)).toBe(false);
    expect(cidrContains(parseCidr('::/0')!, parseIp('10.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('::/0')!, parseIp('::2')!)).toBe(true);
  });
});
