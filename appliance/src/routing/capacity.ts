// Routing room: what each route can carry, and whether a planned route or one of its fallbacks can
// carry a given message. Pure (no I/O): the receiver asks it at the end of DATA, before the 250, so a
// message no route of its plan can deliver is refused there (552/550 naming the limit) instead of
// being accepted and dead-lettered later (issue 15). The numbers come from the route config and the
// documented service limits (reference A3/A4, B4, C3); the transports enforce the same numbers.

import { SMTP_PRESET_LIMITS } from '../config/route-smtp.ts';
import type { RouteConfig } from '../config/schema.ts';

/** One route's per-message limits; undefined means "no limit known here". */
export interface RouteCapacity {
  readonly route: string;
  readonly type: RouteConfig['type'];
  /** Whole raw message (bytes). */
  readonly maxMessageSize?: number;
  /** Decoded text/HTML body that must travel in one request (Graph's draft). */
  readonly maxBodySize?: number;
  /** A body over maxBodySize still goes, as an attachment with a short body saying so. */
  readonly bodyAsAttachment: boolean;
  /** Recipients one message may carry; transports that split larger legs have none. */
  readonly maxRecipients?: number;
}

/** What intake knows of a message when it decides. */
export interface MessageShape {
  readonly size: number;
  /** Decoded bytes of the body the transport would send inline (HTML if any, else text). */
  readonly bodySize: number;
  readonly recipients: number;
}

export type CarryLimit = 'size' | 'body' | 'recipients';

export type CarryVerdict =
  | { readonly ok: true; readonly asAttachment: boolean }
  | { readonly ok: false; readonly limit: CarryLimit; readonly max: number; readonly actual: number };

/**
 * JSON escaping of a text body inside ACS's request (CRLF → \r\n, quotes) costs a few percent; keep
 * that much headroom so intake never accepts what the 10 MB request check later refuses.
 */
export const ACS_JSON_HEADROOM = 1.05;

export function capacityOf(route: RouteConfig): RouteCapacity {
  const base = { route: route.name, type: route.type, bodyAsAttachment: false };
  switch (route.type) {
    case 'graph':
      return {
        ...base,
        maxMessageSize: route.largeMessages ? route.maxMessageSize : route.sendMailMaxSize,
        // Without the draft path everything goes in one sendMail: the message limit covers the body.
        ...(route.largeMessages ? { maxBodySize: route.maxBodySize } : {}),
        bodyAsAttachment: route.largeMessages && route.oversizeBody === 'attach',
        maxRecipients: route.maxRecipientsPerMessage,
      };
    case 'acs':
      // Legs over the per-request recipient limit are split into several requests.
      return { ...base, maxMessageSize: Math.floor(route.maxRequestSize / ACS_JSON_HEADROOM) };
    case 'smtp': {
      const max = route.maxMessageSize ?? SMTP_PRESET_LIMITS[route.preset].maxMessageSize;
      return { ...base, ...(max === undefined ? {} : { maxMessageSize: max }) };
    }
    case 'capture':
      return base;
  }
}

export function routeCapacities(routes: readonly RouteConfig[]): Map<string, RouteCapacity> {
  return new Map(routes.map((r) => [r.name, capacityOf(r)]));
}

/** Whether one route can carry the message, and if not, the first limit it breaks. */
export function canCarry(cap: RouteCapacity, m: MessageShape): CarryVerdict {
  if (cap.maxMessageSize !== undefined && m.size > cap.maxMessageSize)
    return { ok: false, limit: 'size', max: cap.maxMessageSize, actual: m.size };
  if (cap.maxRecipients !== undefined && m.recipients > cap.maxRecipients)
    return { ok: false, limit: 'recipients', max: cap.maxRecipients, actual: m.recipients };
  if (cap.maxBodySize !== undefined && m.bodySize > cap.maxBodySize) {
    if (cap.bodyAsAttachment) return { ok: true, asAttachment: true };
    return { ok: false, limit: 'body', max: cap.maxBodySize, actual: m.bodySize };
  }
  return { ok: true, asAttachment: false };
}

export type PlanVerdict =
  | { readonly ok: true; readonly route: string; readonly asAttachment: boolean }
  | {
      readonly ok: false;
      readonly responseCode: 552 | 550;
      readonly enhanced: string;
      /** Reply text: which route refused on which limit, for each route of the plan. */
      readonly message: string;
      readonly limit: CarryLimit;
    };

const WHAT: Record<CarryLimit, string> = {
  size: 'message size',
  body: 'body size',
  recipients: 'recipients per message',
};

function describe(route: string, v: Extract<CarryVerdict, { ok: false }>): string {
  return v.limit === 'recipients'
    ? `route ${route} takes ${v.max} ${WHAT[v.limit]} (this one has ${v.actual})`
    : `route ${route} takes a ${WHAT[v.limit]} of at most ${v.max} bytes (this one is ${v.actual})`;
}

/**
 * The first route of `chain` (the planned route, then its fallbacks in order) that can carry the
 * message; otherwise the refusal to send before 250. A route missing from `caps` is assumed able.
 * Size and body limits refuse with 552 5.3.4 (RFC 3463: message too big for system); a recipient
 * limit, which no retry can change, with 550 5.5.3.
 */
export function planCarries(
  chain: readonly string[],
  caps: ReadonlyMap<string, RouteCapacity>,
  m: MessageShape,
): PlanVerdict {
  const refusals: { route: string; v: Extract<CarryVerdict, { ok: false }> }[] = [];
  for (const route of chain) {
    const cap = caps.get(route);
    const v = cap === undefined ? ({ ok: true, asAttachment: false } as const) : canCarry(cap, m);
    if (v.ok) return { ok: true, route, asAttachment: v.asAttachment };
    refusals.push({ route, v });
  }
  const first = refusals[0];
  if (first === undefined)
    return { ok: false, responseCode: 552, enhanced: '5.3.4', message: 'no route', limit: 'size' };
  const recipients = refusals.every((r) => r.v.limit === 'recipients');
  return {
    ok: false,
    responseCode: recipients ? 550 : 552,
    enhanced: recipients ? '5.5.3' : '5.3.4',
    message: `Message cannot be delivered: ${refusals.map((r) => describe(r.route, r.v)).join('; ')}`,
    limit: first.v.limit,
  };
}

/** Smallest body limit of any route: messages at most this large need no body measurement. */
export function smallestBodyLimit(caps: ReadonlyMap<string, RouteCapacity>): number {
  let min = Number.POSITIVE_INFINITY;
  for (const c of caps.values()) {
    if (c.maxBodySize !== undefined) min = Math.min(min, c.maxBodySize);
  }
  return min;
}
