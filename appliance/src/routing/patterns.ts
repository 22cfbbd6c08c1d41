// Routing room: the pattern language of routing rules (globs over addresses, domains, user names and
// header values) and Pure functions, no I/O; the pattern syntax and its
// checkers live in config/rule-patterns.ts; the router uses the matchers here.
//
// Globs, not regular expressions: `*` matches any run of characters (dots included), `?` exactly one,
// everything else itself, case-insensitively, anchored at both ends. The matcher below is the classic
// two-pointer wildcard walk: O(pattern × text) at worst and no backtracking blow-up, so a message can
// never make a rule slow however its headers are crafted. Inputs are still bounded (MAX_MATCH_INPUT)
// so the worst case stays small.

import { type AddressPattern, normalizeDomain } from '../config/rule-patterns.ts';

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

// ---- header values -------------------------------------------------------------------------------

/**
 * The RFC 2047 decoder (mime-text.ts: libmime, iconv-lite and their charset tables, ~3.5 MB of RSS)
 * is loaded only where a rule reads a header: whoever routes with such rules awaits
 * loadHeaderDecoder() first (the appliance at start when `headerNames` is not empty, so a decoder
 * that cannot load stops the start), and a header value is never read before.
 */
let decodeWords: ((value: string) => string) | undefined;

export async function loadHeaderDecoder(): Promise<void> {
  decodeWords ??= (await import('../mime-text.ts')).decodeEncodedWords;
}

/**
 * Decodes RFC 2047 encoded-words ("=?UTF-8?B?...?=") so rules match what a person reads in the
 * Subject, bounded to MAX_MATCH_INPUT characters first.
 */
export function decodeHeaderValue(value: string): string {
  if (!value.includes('=?')) return value;
  if (decodeWords === undefined) {
    throw new Error('routing: a rule reads a header but loadHeaderDecoder() was not awaited first');
  }
  return decodeWords(value.length > MAX_MATCH_INPUT ? value.slice(0, MAX_MATCH_INPUT) : value);
}
