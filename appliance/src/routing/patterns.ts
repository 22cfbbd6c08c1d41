// Routing room: the pattern language of routing rules (globs over addresses, domains, user names and
// header values) and source-address normalisation. Pure functions, no I/O; the config schema uses the
// checkers to name bad patterns, the router uses the matchers.
//
// Globs, not regular expressions: `*` matches any run of characters (dots included), `?` exactly one,
// everything else itself, case-insensitively, anchored at both ends. The matcher below is the classic
// two-pointer wildcard walk: O(pattern × text) at worst and no backtracking blow-up, so a message can
// never make a rule slow however its headers are crafted. Inputs are still bounded (MAX_MATCH_INPUT)
// so the worst case stays small.

/** Longest pattern accepted in a rule. */
export const MAX_PATTERN_LENGTH = 256;
/** Characters of a header value (or address) that a glob looks at; the rest is ignored. */
export const MAX_MATCH_INPUT = 4096;

/** Case-insensitive glob match; `pattern` must already be lower-case. */
export function globMatch(pattern: string, text: string): boolean {
  const t = text.length > MAX_MATCH_INPUT ? text.slice(0, MAX_MATCH_INPUT) : text;
  const s = t.toLowerCase();
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

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

// ---- addresses and domains -----------------------------------------------------------------------

/** Splits at the last "@"; the domain is lower-cased without a trailing dot ("" when absent). */
export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at < 0) return { local: address, domain: '' };
  return { local: address.slice(0, at), domain: normalizeDomain(address.slice(at + 1)) };
}

export function normalizeDomain(domain: string): string {
  const d = domain.toLowerCase();
  return d.endsWith('.') ? d.slice(0, -1) : d;
}

const DOMAIN_GLOB = /^[^\s@<>"(),;:\\[\]]+$/;
const LOCAL_GLOB = /^[^\s<>@]+$/;

/** Why `pattern` is not a domain pattern, or undefined when it is one. */
export function checkDomainPattern(pattern: string): string | undefined {
  if (pattern.length === 0) return 'empty domain pattern';
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.startsWith('@')) return `write the domain without "@" ("${pattern.slice(1)}")`;
  if (!DOMAIN_GLOB.test(pattern) || pattern.startsWith('.') || pattern.includes('..')) {
    return `"${pattern}" is not a domain pattern; use contoso.com (exactly) or *.contoso.com (subdomains)`;
  }
  return undefined;
}

/** A parsed address pattern: the null sender, or a glob on the local part and one on the domain. */
export type AddressPattern =
  | { readonly kind: 'null' }
  | { readonly kind: 'address'; readonly local: string | undefined; readonly domain: string };

/**
 * Address patterns: `scanner@contoso.com` (exactly), `@contoso.com` or `contoso.com` (any address at
 * that domain, not its subdomains), `*@*.contoso.com` / `scan-*@contoso.com` (globs), `<>` (the null
 * sender of bounces). Returns the reason when `text` is not one.
 */
export function parseAddressPattern(text: string): AddressPattern | string {
  if (text === '<>') return { kind: 'null' };
  if (text.length === 0) return 'empty address pattern (use <> for the null sender)';
  if (text.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  const at = text.lastIndexOf('@');
  const local = at < 0 ? undefined : text.slice(0, at);
  const domain = at < 0 ? text : text.slice(at + 1);
  const usage =
    'use an address (scanner@contoso.com), a domain (@contoso.com), a glob (*@scanners.contoso.com) or <>';
  if (local !== undefined && local !== '' && !LOCAL_GLOB.test(local)) {
    return `"${text}" is not an address pattern; ${usage}`;
  }
  if (domain === '' || checkDomainPattern(domain) !== undefined) {
    return `"${text}" is not an address pattern; ${usage}`;
  }
  return {
    kind: 'address',
    local: local === undefined || local === '' ? undefined : local.toLowerCase(),
    domain: normalizeDomain(domain),
  };
}

export function matchAddress(pattern: AddressPattern, address: string): boolean {
  if (pattern.kind === 'null') return address === '';
  if (address === '') return false;
  const { local, domain } = splitAddress(address);
  if (pattern.local !== undefined && !globMatch(pattern.local, local)) return false;
  return globMatch(pattern.domain, domain);
}

export function checkGlob(pattern: string): string | undefined {
  if (pattern.length === 0) return 'empty pattern';
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  return undefined;
}

// ---- source addresses ----------------------------------------------------------------------------

/** smtp-server reports IPv4 clients on a dual-stack socket as ::ffff:a.b.c.d; rules name plain IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m?.[1] ?? ip;
}

// ---- header values -------------------------------------------------------------------------------

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, encoding: string, text: string): string | undefined {
  const bytes =
    encoding === 'B' || encoding === 'b'
      ? Buffer.from(text, 'base64')
      : Buffer.from(
          text
            .replace(/_/g, ' ')
            .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
              String.fromCharCode(Number.parseInt(hex, 16)),
            ),
          'latin1',
        );
  try {
    // RFC 2231 lets a charset carry a language ("utf-8*en"); TextDecoder knows the WHATWG labels.
    return new TextDecoder(charset.split('*')[0]).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes RFC 2047 encoded-words ("=?UTF-8?B?...?=") so rules match what a person reads in the
 * Subject; whitespace between adjacent encoded-words is dropped (RFC 2047 §6.2). A word in an
 * unknown charset stays as it was. Values without "=?" come back unchanged.
 */
export function decodeHeaderValue(value: string): string {
  if (!value.includes('=?')) return value;
  const bounded = value.length > MAX_MATCH_INPUT ? value.slice(0, MAX_MATCH_INPUT) : value;
  return bounded
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(
      ENCODED_WORD,
      (word, charset: string, enc: string, text: string) => decodeWord(charset, enc, text) ?? word,
    );
}
