// Routing room: a message's facts prepared once per message (addresses split and lower-cased, source
// address parsed, header values decoded and bounded) so each rule check is a cheap compare. Pure.
import { type ParsedIp, parseIp } from '../config/networks.ts';
import { decodeHeaderValue, type PreparedAddress, prepareAddress, prepareText } from './patterns.ts';

/** A header field value ready for matching: as shown, and the texts globs are tried on. */
export interface PreparedHeaderValue {
  readonly shown: string;
  /** Decoded and raw text (once when equal), each lower-cased and bounded. */
  readonly candidates: readonly string[];
}

/** What the router knows about the message, prepared once per message. */
export interface MessageFacts {
  readonly identity: string;
  /** Normalised source address as given (for explanations). */
  readonly sourceIp: string;
  readonly ip: ParsedIp | undefined;
  readonly authUser: string | undefined;
  readonly authUserPrepared: string | undefined;
  readonly mailFrom: PreparedAddress;
  /** Undefined before DATA. */
  readonly size: number | undefined;
  /** Lower-cased field name → values; undefined before DATA. */
  readonly headers: ReadonlyMap<string, readonly PreparedHeaderValue[]> | undefined;
}

export interface MessageFactsInput {
  readonly identity: string;
  readonly sourceIp: string;
  readonly authUser?: string | undefined;
  readonly mailFrom: string;
  readonly size?: number | undefined;
  readonly headers?: readonly { readonly name: string; readonly value: string }[] | undefined;
}

/**
 * Prepares the message's facts. Only the header fields named in `headerNames` (lower-case; the
 * fields some rule looks at) are decoded: the rest is never read, and decoding every value of every
 * message was the router's largest cost. Undefined prepares every field (explanations of a single
 * message, tests).
 */

export function prepareMessage(input: MessageFactsInput, headerNames?: ReadonlySet<string>): MessageFacts {
  const ip = parseIp(input.sourceIp);
  let headers: Map<string, PreparedHeaderValue[]> | undefined;
  if (input.headers !== undefined) {
    headers = new Map();
    for (const h of input.headers) {
      const key = h.name.trim().toLowerCase();
      if (headerNames !== undefined && !headerNames.has(key)) continue;
      const raw = h.value.trim();
      const decoded = decodeHeaderValue(raw);
      const value: PreparedHeaderValue = {
        shown: decoded,
        candidates: decoded === raw ? [prepareText(raw)] : [prepareText(decoded), prepareText(raw)],
      };
      const list = headers.get(key);
      if (list) list.push(value);
      else headers.set(key, [value]);
    }
  }
  return {
    identity: input.identity,
    sourceIp: input.sourceIp,
    ip,
    authUser: input.authUser,
    authUserPrepared: input.authUser === undefined ? undefined : prepareText(input.authUser),
    mailFrom: prepareAddress(input.mailFrom),
    size: input.size,
    headers,
  };
}

export { prepareAddress as prepareRecipient };
