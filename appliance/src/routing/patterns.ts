// Routing room: the pattern language of routing rules (globs over addresses, domains, user names and
// header values) and source-address normalisation. Pure functions, no I/O; the pattern syntax and its
// checkers live in config/rule-patterns.ts; the router uses the matchers here.
//
// Globs, not regular expressions: `*` matches any run of characters (dots included), `?` exactly one,
// everything else itself, case-insensitively, anchored at both ends. The matcher below is the classic
// two-pointer wildcard walk: O(pattern × text) at worst and no backtracking blow-up, so a message can
// never make a rule slow however its headers are crafted. Inputs are still bounded (MAX_MATCH_INPUT)
// so the worst case stays small.

import { isIP } from 'node:net';
import { type AddressPattern, normalizeDomain } from '../config/rule-patterns.ts';
import { decodeEncodedWords } from '../mime-text.ts';

/** Characters of a header value (or address) that a glob looks at; the rest is ignored. */
export const MAX_MATCH_INPUT = 4096;

/** Lower-cases and bounds a text once, for the prepared matchers below. */
export function prepareText(text: string): string {
  return (text.length > MAX_MATCH_INPUT ? text.slice(0, MAX_MATCH_INPUT) : text).toLowerCase();
}

/** Case-insensitive glob match; `pattern` must already be lower-case. */
export function globMatch(pattern: string, text: string): boolean {
  return globMatchPrepared(pattern, prepareText(text));
}

/** Glob match of a lower-case pattern against a text already through prepareText. */
export function globMatchPrepared(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starI = i;
    } else if (pc !== undefined && (pc === '?' || pc === s[i])) {
      p++;
      i++;
    } else if (starP !== -1) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

// ---- addresses and domains -----------------------------------------------------------------------

/** Splits at the last "@"; the domain is lower-cased without a trailing dot ("" when absent). */
export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at < 0) return { local: address, domain: '' };
  return { local: address.slice(0, at), domain: normalizeDomain(address.slice(at + 1)) };
}

/** An address split once for matching: lower-cased, bounded local part and domain. */
export interface PreparedAddress {
  readonly address: string;
  readonly local: string;
  readonly domain: string;
}

export function prepareAddress(address: string): PreparedAddress {
  const { local, domain } = splitAddress(address);
  return { address, local: prepareText(local), domain: prepareText(domain) };
}

export function matchAddress(pattern: AddressPattern, address: string): boolean {
  return matchPreparedAddress(pattern, prepareAddress(address));
}

export function matchPreparedAddress(pattern: AddressPattern, a: PreparedAddress): boolean {
  if (pattern.kind === 'null') return a.address === '';
  if (a.address === '') return false;
  if (pattern.local !== undefined && !globMatchPrepared(pattern.local, a.local)) return false;
  return globMatchPrepared(pattern.domain, a.domain);
}

// ---- source addresses ----------------------------------------------------------------------------

/** smtp-server reports IPv4 clients on a dual-stack socket as ::ffff:a.b.c.d; rules name plain IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m?.[1] ?? ip;
}

/** An address as bytes (4 or 16), parsed once per message so CIDR checks are byte compares. */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); undefined when it is neither. */
export function parseIp(text: string): ParsedIp | undefined {
  let ip = normalizeIp(text);
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const family = isIP(ip);
  if (family === 4) return { family: 4, bytes: Uint8Array.from(ip.split('.'), Number) };
  if (family !== 6) return undefined;
  const bytes = new Uint8Array(16);
  let v6 = ip;
  const lastColon = v6.lastIndexOf(':');
  const tail = v6.slice(lastColon + 1);
  if (tail.includes('.')) {
    // Embedded IPv4 in the last 32 bits ("::1.2.3.4", "64:ff9b::1.2.3.4"): two groups' worth.
    tail.split('.').forEach((octet, i) => {
      bytes[12 + i] = Number(octet);
    });
    v6 = `${v6.slice(0, lastColon + 1)}0:0`;
  }
  const gap = v6.indexOf('::');
  const head =
    gap < 0
      ? v6.split(':')
      : v6
          .slice(0, gap)
          .split(':')
          .filter((g) => g !== '');
  const rest =
    gap < 0
      ? []
      : v6
          .slice(gap + 2)
          .split(':')
          .filter((g) => g !== '');
  const groups =
    gap < 0 ? head : [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    if (i < 6 || !tail.includes('.')) {
      bytes[i * 2] = v >> 8;
      bytes[i * 2 + 1] = v & 0xff;
    }
  });
  return { family: 6, bytes };
}

/** A CIDR range ("10.0.0.0/8", "2001:db8::/32", or one address) ready for byte compares. */
export interface ParsedCidr extends ParsedIp {
  readonly bits: number;
  readonly text: string;
}

export function parseCidr(text: string): ParsedCidr | undefined {
  const [addr = '', bits] = text.split('/');
  const ip = isIP(addr) === 0 ? undefined : parseIp(addr);
  if (ip === undefined) return undefined;
  // A mapped address in a rule ("::ffff:10.0.0.0/104") was turned into IPv4 by parseIp.
  const max = ip.family === 4 ? 32 : 128;
  const given = bits === undefined ? max : Number(bits);
  const n = ip.family === 4 && isIP(addr) === 6 ? Math.max(given - 96, 0) : given;
  return { ...ip, bits: n, text };
}

export function cidrContains(net: ParsedCidr, ip: ParsedIp): boolean {
  if (net.family !== ip.family) return false;
  let bits = net.bits;
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (net.bytes[i] !== ip.bytes[i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((net.bytes[i] ?? 0) & mask) === ((ip.bytes[i] ?? 0) & mask);
}

// ---- header values -------------------------------------------------------------------------------

/**
 * Decodes RFC 2047 encoded-words ("=?UTF-8?B?...?=") so rules match what a person reads in the
 * Subject (mime-text.ts: libmime), bounded to MAX_MATCH_INPUT characters first.
 */
export function decodeHeaderValue(value: string): string {
  if (!value.includes('=?')) return value;
  return decodeEncodedWords(value.length > MAX_MATCH_INPUT ? value.slice(0, MAX_MATCH_INPUT) : value);
}
