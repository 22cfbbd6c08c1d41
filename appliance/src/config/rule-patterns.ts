// Config room: the syntax of routing-rule patterns (docs/routing.md). The schema (rules.ts) uses
// these checkers to name a bad pattern with its key; the router (routing/patterns.ts) matches with
// the parsed forms. Pure; no relaykit imports.

/** Longest pattern accepted in a rule. */
export const MAX_PATTERN_LENGTH = 256;

/** Lower-case, without a trailing dot. */
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

export function checkGlob(pattern: string): string | undefined {
  if (pattern.length === 0) return 'empty pattern';
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  return undefined;
}
