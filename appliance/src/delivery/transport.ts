// The delivery room's contract. The engine (worker.ts) claims a pending leg of a spool entry, builds
// a DeliveryJob and calls the route's Transport; the transport answers with an outcome and never
// touches the spool itself. Transports judge remote failures with their own error table (failure.ts).
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { TokenSourceFactory } from '../auth/token-source.ts';
import type { ResolvedCloud } from '../config/cloud.ts';
import type { RouteConfig, RouteType } from '../config/schema.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { ErrorCode } from '../errors.ts';
import { closeFd, openFd, readExactly, readRangeSync, SYNC_READ_MAX } from '../fsio.ts';
import type { Logger } from '../log.ts';
import type { HttpRequest } from '../net/http-request.ts';
import type { Delivery, MessageSource, SpoolHeader } from '../spool/record.ts';

export interface DeliveryJob {
  /** Spool id of the message. */
  readonly id: string;
  /** Index of this leg in the message's deliveries. */
  readonly leg: number;
  /** Envelope for this leg: MAIL FROM (after any rewrite) and only this leg's recipients. */
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly identity: string;
  readonly sendAs?: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly receivedAt: number;
  readonly message: MessageSource;
  /**
   * Stable across retries of this leg on this route, so a service that de-duplicates by request id
   * (ACS Operation-Id) can tell a retry from a new message.
   */
  readonly idempotencyKey: string;
  /** Aborted on shutdown past the drain deadline; transports pass it to every request. */
  readonly signal: AbortSignal;
}

/** The job for leg `leg` (delivery `d`) of a spooled message. */
export function legJob(
  h: SpoolHeader,
  leg: number,
  d: Delivery,
  message: MessageSource,
  signal: AbortSignal,
): DeliveryJob {
  return {
    id: h.id,
    leg,
    mailFrom: d.mailFrom ?? h.envelope.mailFrom,
    recipients: d.recipients,
    identity: h.identity,
    ...(d.sendAs === undefined ? {} : { sendAs: d.sendAs }),
    attempt: d.attempts.filter((a) => a.route === d.route).length + 1,
    receivedAt: h.receivedAt,
    message,
    idempotencyKey: `${h.id}.${leg}.${d.route}`,
    signal,
  };
}

export type DeliveryOutcome =
  | {
      readonly kind: 'delivered';
      readonly detail: string;
      readonly remoteId?: string;
      readonly possibleDuplicate?: boolean;
      /**
       * Recipients the service refused while accepting the others (an SMTP smarthost answering 550
       * to one RCPT). The engine retries the transient ones as a new leg and dead-letters the rest.
       */
      readonly failedRecipients?: readonly {
        readonly recipient: string;
        readonly outcome: 'transient' | 'permanent';
        readonly code: ErrorCode;
        readonly reason: string;
      }[];
    }
  | {
      readonly kind: 'transient';
      readonly code: ErrorCode;
      readonly reason: string;
      readonly hint?: string;
      /** Wait at least this long before the next attempt (Retry-After); capped by spool.maxRetryAfter. */
      readonly retryAfterMs?: number;
      readonly possibleDuplicate?: boolean;
    }
  | {
      readonly kind: 'permanent';
      readonly code: ErrorCode;
      readonly reason: string;
      readonly hint?: string;
      /** True when another route might still succeed (size, recipient count): the fallback may take it. */
      readonly fallbackEligible?: boolean;
    };

export interface TransportHealth {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Transport {
  readonly route: string;
  readonly type: RouteType;
  /**
   * Deliveries sharing a key are limited to `keyConcurrency` at once (Graph keys on the sending
   * mailbox). Undefined: only the route's concurrency applies.
   */
  concurrencyKey?(job: DeliveryJob): string | undefined;
  readonly keyConcurrency?: number;
  deliver(job: DeliveryJob): Promise<DeliveryOutcome>;
  health?(): TransportHealth;
  close?(): Promise<void>;
}

export interface TransportDeps {
  readonly logger: Logger;
  readonly credentials: CredentialStore;
  readonly tokens: TokenSourceFactory;
  /** Injected so tests and simulators can stand in for the network. */
  readonly fetch: typeof globalThis.fetch;
  /**
   * The lean request over the same door as `fetch` (net/http-request.ts), for per-message requests;
   * absent when a plain fetch is injected (transports then make one from `fetch`).
   */
  readonly request?: HttpRequest;
  readonly now: () => number;
  /** Authority and Graph endpoints from config `cloud` (resolveCloud); global cloud when absent. */
  readonly cloud?: ResolvedCloud;
  /**
   * After a request to `url` was aborted: resolves once its connection has closed (at most `limitMs`
   * later). From the fetch's dispatcher (net/cloud-fetch.ts); absent with a plain fetch.
   */
  readonly connectionClosed?: (url: string, limitMs: number) => Promise<void>;
}

export type TransportFactory<R extends RouteConfig = RouteConfig> = (
  route: R,
  deps: TransportDeps,
) => Transport;

/** Opens the message bytes (or a byte range of them) as a stream. */
export function openMessage(msg: MessageSource, range?: { start: number; end?: number }): Readable {
  const start = msg.offset + (range?.start ?? 0);
  const end = msg.offset + (range?.end ?? msg.length); // exclusive
  if (end <= start) return Readable.from([]);
  return createReadStream(msg.path, { start, end: end - 1 });
}

/**
 * The whole message in memory: for transports whose request carries it in one piece. A small
 * message (at most SYNC_READ_MAX bytes, the common case) is read synchronously — the receiver wrote
 * and fsynced it moments ago, so it is in the page cache (fsio.ts states the rule); a larger one in
 * one positioned read on the thread pool into a buffer of the known length (two round trips instead
 * of a read stream's four, and no stream objects or chunk copies).
 */
export async function readMessage(msg: MessageSource): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(msg.length);
  if (msg.length === 0) return buf;
  if (msg.length <= SYNC_READ_MAX) {
    readRangeSync(msg.path, buf, msg.offset);
    return buf;
  }
  const fd = await openFd(msg.path, 'r');
  try {
    await readExactly(fd, buf, msg.offset);
  } finally {
    closeFd(fd);
  }
  return buf;
}
