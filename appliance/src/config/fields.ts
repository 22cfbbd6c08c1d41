// Reusable zod field types for the one config schema: sizes and durations with units, names, IPs and
// CIDR ranges. Kept apart from schema.ts so route and identity sub-schemas can share them.
import { isIP } from 'node:net';
import { z } from 'zod';
import { networkProblem } from './networks.ts';
import { parseDuration, parseSize } from './units.ts';

/** A size with a unit ("35MB"); becomes bytes. */
export const size = z.string().transform((text, ctx) => {
  try {
    return parseSize(text);
  } catch (err) {
    ctx.issues.push({ code: 'custom', message: (err as Error).message, input: text });
    return z.NEVER;
  }
});

/** A duration with a unit ("30s"); becomes milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.issues.push({ code: 'custom', message: (err as Error).message, input: text });
    return z.NEVER;
  }
});

/** Names of listeners, identities, routes and rules: lower-case, digits and dashes. */
export const name = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'use 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit',
  );

export const ipAddress = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128); host bits set are refused. */
export const cidr = z.string().superRefine((s, ctx) => {
  const problem = networkProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: s });
});

export const port = z.number().int().min(0).max(65535);

export const emailAddress = z
  .string()
  .regex(/^[^\s@<>]+@[^\s@<>]+$/, 'must be an e-mail address such as scanner@contoso.com');

export const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$/i, 'must be a domain name such as contoso.com');
