// ACS Email REST transport, the operations client: one send operation per recipient chunk —
// `POST {endpoint}/emails:send` with a caller-chosen Operation-Id (so a retry resumes the same
// operation instead of sending twice), then `GET /emails/operations/{id}` until the operation is
// terminal (the long-running poll, Retry-After honoured, bounded by pollTimeout). Every request has
// a timeout tied to the job's abort signal; failures come back as classified LegFailures
// (acs-errors.ts). Touches the network only through the injected fetch.
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayError } from '../../errors.ts';
import { errnoOf, parseRetryAfter, timedSignal } from '../../net/http-failure.ts';
import type { FailureFacts } from '../failure.ts';
import type { LegFailure } from '../recipient-outcomes.ts';
import type { DeliveryJob } from '../transport.ts';
import { contentHash } from './acs-auth.ts';
import type { StreamedBody } from './acs-body.ts';
import { classifyAcsFailure } from './acs-errors.ts';

export type ChunkResult =
  | { readonly ok: true; readonly operationId: string }
  | { readonly ok: false; readonly failure: LegFailure };

export interface Auth {
  /** `contentHash`: base64 SHA-256 of the request body (of '' for a GET). */
  headers(method: string, url: URL, contentHash: string): Record<string, string>;
  /** Called after a 401 so the next request re-reads the key or forces a new token. */
  rejected(): void;
}

const EMPTY_HASH = contentHash('');

const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** Only https: the access key signature and bearer tokens never cross the wire in clear (tests too). */
export function checkEndpoint(text: string): URL {
  if (!URL.canParse(text))
    throw new RelayError('RELAY_CONFIG_INVALID', `ACS endpoint "${text}" is not a URL`);
  const url = new URL(text);
  if (url.protocol !== 'https:') {
    throw new RelayError('RELAY_CONFIG_INVALID', `ACS endpoint "${text}" must use https`);
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  return url;
}

/** A UUID that is the same for the same message, route and recipient chunk on every attempt. */
export function operationIdFor(scope: string, recipients: readonly string[]): string {
  const h = createHash('sha256')
    .update(scope)
    .update('\0')
    .update(recipients.map((r) => r.toLowerCase()).join('\n'))
    .digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80; // version 8: custom
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface AcsClientOptions {
  readonly apiVersion: string;
  readonly requestTimeout: number;
  readonly pollInterval: number;
  readonly pollTimeout: number;
  readonly fetch: typeof globalThis.fetch;
  readonly now: () => number;
  /** A send answered 429: ACS asked not to be sent to for `ms`. */
  readonly onThrottled: (ms: number | undefined) => void;
  /** A send refused for credentials (401/403), with the reason. */
  readonly onAuthRefused: (reason: string) => void;
}

export class AcsClient {
  private readonly o: AcsClientOptions;

  constructor(options: AcsClientOptions) {
    this.o = options;
  }

  private url(endpoint: URL, path: string): URL {
    const url = new URL(endpoint.href);
    url.pathname = `${endpoint.pathname.replace(/\/+$/, '')}${path}`;
    url.search = `?api-version=${this.o.apiVersion}`;
    return url;
  }

  private async request(
    job: DeliveryJob,
    auth: Auth,
    method: 'GET' | 'POST',
    url: URL,
    body: StreamedBody | undefined,
    extra: Record<string, string> = {},
  ): Promise<{ response: Response; json: unknown } | { failure: LegFailure }> {
    const timed = timedSignal(job.signal, this.o.requestTimeout);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-ms-client-request-id': randomUUID(),
      ...auth.headers(method, url, body?.hash ?? EMPTY_HASH),
      ...extra,
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.bytes);
    }
    try {
      const response = await this.o.fetch(url, {
        method,
        headers,
        // Streamed: the base64 is made piece by piece as the socket takes it.
        ...(body === undefined ? {} : { body: Readable.from(body.chunks()), duplex: 'half' }),
        signal: timed.signal,
        redirect: 'error',
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (response.status === 401) auth.rejected();
      return { response, json };
    } catch (err) {
      const errno = errnoOf(err, timed) ?? 'ECONNRESET';
      return {
        failure: this.classified(
          { transport: 'acs', errno, requestSent: method === 'POST' },
          `${method} ${url.pathname}: ${errno === 'TIMEOUT' ? `no answer in ${this.o.requestTimeout} ms` : (err as Error).message}`,
        ),
      };
    } finally {
      timed.dispose();
    }
  }

  private classified(facts: FailureFacts, reason: string, retryAfterMs?: number): LegFailure {
    const c = classifyAcsFailure(facts);
    return {
      outcome: c.outcome,
      code: c.code,
      reason,
      ...(c.hint === undefined ? {} : { hint: c.hint }),
      ...(c.fallbackEligible === undefined ? {} : { fallbackEligible: c.fallbackEligible }),
      ...(c.possibleDuplicate ? { possibleDuplicate: true } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  private httpFailure(response: Response, json: unknown, what: string, requestSent: boolean): LegFailure {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const serviceCode =
      typeof error?.code === 'string' ? error.code : (response.headers.get('x-ms-error-code') ?? undefined);
    const message = typeof error?.message === 'string' ? error.message : '';
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.o.now());
    return this.classified(
      {
        transport: 'acs',
        httpStatus: response.status,
        ...(serviceCode === undefined ? {} : { serviceCode }),
        message,
        requestSent,
      },
      `${what}: HTTP ${response.status}${serviceCode ? ` ${serviceCode}` : ''}${message ? `: ${message}` : ''}`,
      retryAfterMs,
    );
  }

  /** The result of an operation that ended Failed or Canceled. */
  private operationFailure(operationId: string, status: string, json: unknown): LegFailure {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const serviceCode = typeof error?.code === 'string' ? error.code : status;
    const message = typeof error?.message === 'string' ? error.message : '';
    const reason = `ACS operation ${operationId} ended ${status}${serviceCode !== status ? ` (${serviceCode})` : ''}${message ? `: ${message}` : ''}`;
    const c = classifyAcsFailure({ transport: 'acs', serviceCode, message });
    // The service finished with this message; an unknown terminal error will not change on retry.
    if (c.row === -1) return { outcome: 'permanent', code: 'RELAY_ACS_DROPPED', reason };
    return this.classified({ transport: 'acs', serviceCode, message }, reason);
  }

  async sendChunk(
    job: DeliveryJob,
    target: { endpoint: URL; auth: Auth },
    body: StreamedBody,
    operationId: string,
  ): Promise<ChunkResult> {
    const { endpoint, auth } = target;
    const statusUrl = this.url(endpoint, `/emails/operations/${operationId}`);
    // A later attempt first asks whether an earlier one already got through (a timeout after the
    // request left us): the Operation-Id is stable, so the operation can be found and resumed.
    if (job.attempt > 1) {
      const r = await this.request(job, auth, 'GET', statusUrl, undefined);
      if ('failure' in r) return { ok: false, failure: r.failure };
      if (r.response.status === 200)
        return this.pollFrom(job, auth, statusUrl, operationId, r.response, r.json);
      if (r.response.status !== 404) {
        return { ok: false, failure: this.httpFailure(r.response, r.json, 'operation status', false) };
      }
    }
    const r = await this.request(job, auth, 'POST', this.url(endpoint, '/emails:send'), body, {
      'operation-id': operationId,
    });
    if ('failure' in r) return { ok: false, failure: r.failure };
    if (r.response.status !== 202) {
      const failure = this.httpFailure(r.response, r.json, 'send', true);
      if (r.response.status === 429) this.o.onThrottled(failure.retryAfterMs);
      if (failure.code === 'RELAY_ACS_AUTH_FAILED') this.o.onAuthRefused(failure.reason);
      return { ok: false, failure };
    }
    return this.pollFrom(job, auth, statusUrl, operationId, r.response, r.json);
  }

  private async pollFrom(
    job: DeliveryJob,
    auth: Auth,
    statusUrl: URL,
    operationId: string,
    first: Response,
    firstJson: unknown,
  ): Promise<ChunkResult> {
    const deadline = this.o.now() + this.o.pollTimeout;
    let response = first;
    let json = firstJson;
    let status = 'Running';
    for (;;) {
      if (response.status === 200 || response.status === 202) {
        const s = (json as { status?: unknown } | undefined)?.status;
        status = typeof s === 'string' ? s : 'Running';
        if (status === 'Succeeded') return { ok: true, operationId };
        if (TERMINAL.has(status))
          return { ok: false, failure: this.operationFailure(operationId, status, json) };
      } else {
        const failure = this.httpFailure(response, json, 'operation status', false);
        // A status poll that fails for good (auth) ends the chunk; throttling or a blip is waited out.
        if (failure.outcome === 'permanent') return { ok: false, failure };
      }
      const wait = Math.max(
        this.o.pollInterval,
        parseRetryAfter(response.headers.get('retry-after'), this.o.now()) ?? 0,
      );
      if (this.o.now() + wait > deadline) {
        return {
          ok: false,
          failure: {
            outcome: 'transient',
            code: 'RELAY_TIMEOUT',
            reason: `ACS operation ${operationId} still ${status} after ${this.o.pollTimeout} ms; the next attempt resumes it`,
          },
        };
      }
      try {
        await sleep(wait, undefined, { signal: job.signal });
      } catch {
        return {
          ok: false,
          failure: {
            outcome: 'transient',
            code: 'RELAY_DELIVERY_TRANSIENT',
            reason: 'shutdown aborted the status poll',
          },
        };
      }
      const r = await this.request(job, auth, 'GET', statusUrl, undefined);
      if ('failure' in r) {
        if (r.failure.outcome === 'permanent' || job.signal.aborted) return { ok: false, failure: r.failure };
        continue;
      }
      response = r.response;
      json = r.json;
    }
  }
}
