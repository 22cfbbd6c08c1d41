// Failure facts and the verdict rows that judge them: the leaf of the delivery room's decision table.
// Transports describe a failure as facts (HTTP status, service error code, SMTP reply, network
// errno, whether the request may have been received) and judge it with their own rows followed by
// the generic rows below; classify.ts assembles all rows into the one documented table. Lives apart
// from classify.ts so the per-transport tables can import the row type without a cycle.
import type { RouteType } from '../config/schema.ts';
import type { ErrorCode } from '../errors.ts';

export interface FailureFacts {
  readonly transport: RouteType;
  /** HTTP status of the response, if one arrived. */
  readonly httpStatus?: number;
  /** Service error code (Graph `error.code`, ACS `error.code`). */
  readonly serviceCode?: string;
  /** Service error message, for rows that must look at the text. */
  readonly message?: string;
  /** SMTP reply code and enhanced status code. */
  readonly smtpCode?: number;
  readonly smtpEnhanced?: string;
  /** Node network error code (ECONNRESET, ETIMEDOUT, ...) or "TIMEOUT"/"ABORT" for our own timers. */
  readonly errno?: string;
  /** True once the request body was fully sent: a failure after that may have been delivered. */
  readonly requestSent?: boolean;
  /** Which step of a multi-request delivery failed (Graph: createDraft, uploadChunk, send, ...). */
  readonly operation?: string;
}

export interface ClassificationRow {
  readonly when: {
    readonly transport?: RouteType;
    readonly httpStatus?: number | readonly [number, number];
    readonly serviceCode?: string;
    readonly messageIncludes?: string;
    readonly smtpCode?: number | readonly [number, number];
    readonly smtpEnhanced?: string;
    readonly errno?: string | readonly string[];
    readonly operation?: string | readonly string[];
  };
  readonly outcome: 'transient' | 'permanent';
  readonly code: ErrorCode;
  /** What the operator should do, shown in the dead-letter reason and the trace. */
  readonly hint?: string;
  /** A permanent failure another route could still get through (size, recipients). */
  readonly fallbackEligible?: boolean;
}

export interface Classification {
  readonly outcome: 'transient' | 'permanent';
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly fallbackEligible?: boolean;
  /** The request may have been processed even though it failed for us. */
  readonly possibleDuplicate: boolean;
  /** Index of the matching row in the table judged by (-1: none matched), for tests and traces. */
  readonly row: number;
}

const NETWORK_ERRNOS = [
  'ECONNRESET',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
] as const;

export const GENERIC_ROWS: readonly ClassificationRow[] = [
  { when: { errno: 'TIMEOUT' }, outcome: 'transient', code: 'RELAY_TIMEOUT' },
  {
    when: { errno: 'ABORT' },
    outcome: 'transient',
    code: 'RELAY_DELIVERY_TRANSIENT',
    hint: 'shutdown aborted the attempt',
  },
  { when: { errno: NETWORK_ERRNOS }, outcome: 'transient', code: 'RELAY_NETWORK' },
  { when: { httpStatus: 429 }, outcome: 'transient', code: 'RELAY_THROTTLED' },
  { when: { httpStatus: 408 }, outcome: 'transient', code: 'RELAY_TIMEOUT' },
  { when: { httpStatus: [500, 599] }, outcome: 'transient', code: 'RELAY_DELIVERY_TRANSIENT' },
  { when: { httpStatus: [400, 499] }, outcome: 'permanent', code: 'RELAY_DELIVERY_PERMANENT' },
  { when: { smtpCode: [400, 499] }, outcome: 'transient', code: 'RELAY_DELIVERY_TRANSIENT' },
  { when: { smtpCode: [500, 599] }, outcome: 'permanent', code: 'RELAY_SMTP_REJECTED' },
];

function inRange(value: number | undefined, want: number | readonly [number, number] | undefined): boolean {
  if (want === undefined) return true;
  if (value === undefined) return false;
  return typeof want === 'number' ? value === want : value >= want[0] && value <= want[1];
}

function matches(row: ClassificationRow, f: FailureFacts): boolean {
  const w = row.when;
  if (w.transport !== undefined && w.transport !== f.transport) return false;
  if (!inRange(f.httpStatus, w.httpStatus)) return false;
  if (!inRange(f.smtpCode, w.smtpCode)) return false;
  if (w.serviceCode !== undefined && w.serviceCode !== f.serviceCode) return false;
  if (w.smtpEnhanced !== undefined && !(f.smtpEnhanced ?? '').startsWith(w.smtpEnhanced)) return false;
  if (
    w.messageIncludes !== undefined &&
    !(f.message ?? '').toLowerCase().includes(w.messageIncludes.toLowerCase())
  ) {
    return false;
  }
  if (w.operation !== undefined) {
    const ops: readonly string[] = typeof w.operation === 'string' ? [w.operation] : w.operation;
    if (f.operation === undefined || !ops.includes(f.operation)) return false;
  }
  if (w.errno !== undefined) {
    const list: readonly string[] = typeof w.errno === 'string' ? [w.errno] : w.errno;
    if (f.errno === undefined || !list.includes(f.errno)) return false;
  }
  return true;
}

/** The first row of `table` matching `facts`; transient RELAY_DELIVERY_TRANSIENT when none does. */
export function judge(table: readonly ClassificationRow[], facts: FailureFacts): Classification {
  const row = table.findIndex((r) => matches(r, facts));
  const hit = table[row];
  // A gateway timeout or our own timeout after the request left us may still have been processed.
  const possibleDuplicate =
    facts.requestSent === true &&
    (facts.httpStatus === 504 || facts.errno === 'TIMEOUT' || facts.errno === 'ECONNRESET');
  if (hit === undefined) {
    return { outcome: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', possibleDuplicate, row: -1 };
  }
  return {
    outcome: hit.outcome,
    code: hit.code,
    possibleDuplicate,
    row,
    ...(hit.hint === undefined ? {} : { hint: hit.hint }),
    ...(hit.fallbackEligible === undefined ? {} : { fallbackEligible: hit.fallbackEligible }),
  };
}

/** A transport's classifier: its own rows first, then the generic rows. */
export function classifierFor(rows: readonly ClassificationRow[]): (facts: FailureFacts) => Classification {
  const table = [...rows, ...GENERIC_ROWS];
  return (facts) => judge(table, facts);
}
