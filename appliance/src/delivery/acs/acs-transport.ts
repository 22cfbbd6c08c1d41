// ACS Email REST transport: converts the spooled MIME to `EmailMessage` JSON (acs-mime.ts), sends it
// with `POST {endpoint}/emails:send` signed by the access key (HMAC, acs-auth.ts) or an Entra token,
// and polls the send operation until it is terminal. Legs above the recipient limit become several
// operations; each has an Operation-Id derived from the leg's idempotency key and its recipients, so
// a retry resumes (or re-finds) the same operation instead of sending twice. Touches only the network
// (injected fetch), credentials and tokens; never the spool.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouteConfig } from '../../config/schema.ts';
import { RelayError } from '../../errors.ts';
import type { FailureFacts } from '../failure.ts';
import { chunk, combineOutcomes, type LegFailure, type RecipientResult } from '../recipient-outcomes.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
  type TransportHealth,
} from '../transport.ts';
import { hmacHeaders, parseConnectionString } from './acs-auth.ts';
import { classifyAcsFailure } from './acs-errors.ts';
import { errnoOf, parseRetryAfter, timedSignal } from './acs-http.ts';
import {
  type AcsTemplate,
  buildTemplate,
  DEFAULT_PASS_HEADERS,
  messageFor,
  type PlacedRecipient,
  parseMime,
  placeRecipients,
} from './acs-mime.ts';

export type AcsRouteConfig = Extract<RouteConfig, { type: 'acs' }>;

export const ACS_SCOPE = 'https://communication.azure.com/.default';

type ChunkResult =
  | { readonly ok: true; readonly operationId: string }
  | { readonly ok: false; readonly failure: LegFailure };

interface Auth {
  headers(method: string, url: URL, body: string): Record<string, string>;
  /** Called after a 401 so the next request re-reads the key or forces a new token. */
  rejected(): void;
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** Only https, except for loopback (simulators in tests). */
export function checkEndpoint(text: string): URL {
  if (!URL.canParse(text))
    throw new RelayError('RELAY_CONFIG_INVALID', `ACS endpoint "${text}" is not a URL`);
  const url = new URL(text);
  const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
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

async function readAll(job: DeliveryJob): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of openMessage(job.message)) parts.push(piece as Buffer);
  return Buffer.concat(parts);
}

export class AcsTransport implements Transport {
  readonly route: string;
  readonly type = 'acs' as const;
  private readonly cfg: AcsRouteConfig;
  private readonly deps: TransportDeps;
  private readonly configuredEndpoint: URL | undefined;
  private forceTokenRefresh = false;
  /** Epoch ms until which ACS asked (429 Retry-After on send) not to be sent to. */
  private throttledUntil = 0;
  /** Why the last send was refused for credentials, until one succeeds. */
  private authProblem: string | undefined;

  constructor(cfg: AcsRouteConfig, deps: TransportDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.route = cfg.name;
    this.configuredEndpoint = cfg.endpoint === undefined ? undefined : checkEndpoint(cfg.endpoint);
    if (cfg.auth.type === 'entra' && this.configuredEndpoint === undefined) {
      throw new RelayError(
        'RELAY_CONFIG_INVALID',
        `route "${cfg.name}": endpoint is required with Entra auth`,
      );
    }
  }

  health(): TransportHealth {
    const now = this.deps.now();
    if (this.authProblem !== undefined) return { ok: false, detail: this.authProblem };
    if (now < this.throttledUntil) {
      return { ok: true, detail: `throttled by ACS for ${Math.ceil((this.throttledUntil - now) / 1000)} s` };
    }
    return { ok: true };
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const cfg = this.cfg;
    // The send quota is per subscription: while ACS has asked us to wait, every request would only
    // earn another 429 and count against the quota. Wait without asking.
    const wait = this.throttledUntil - this.deps.now();
    if (wait > 0) {
      return {
        kind: 'transient',
        code: 'RELAY_THROTTLED',
        reason: `ACS asked to wait (429 Retry-After); ${Math.ceil(wait / 1000)} s left`,
        retryAfterMs: wait,
      };
    }
    // JSON with base64 attachments is never much smaller than the MIME: refuse huge input unparsed.
    if (job.message.length > cfg.maxRequestSize * 2) return this.tooLarge(job.message.length, 'message');

    let template: AcsTemplate;
    try {
      const mail = await parseMime(await readAll(job));
      template = buildTemplate(mail, job.mailFrom, {
        sender: {
          senderAddress: cfg.senderAddress,
          provisionedSenders: cfg.provisionedSenders,
          replyToOriginalSender: cfg.replyToOriginalSender,
        },
        passHeaders: [...DEFAULT_PASS_HEADERS, ...cfg.passHeaders],
        userEngagementTrackingDisabled: cfg.userEngagementTrackingDisabled,
      });
    } catch (err) {
      if (err instanceof RelayError && err.code === 'RELAY_ACS_MIME_INVALID') {
        // A route that sends the bytes as they are (SMTP) may still take it.
        return { kind: 'permanent', code: err.code, reason: err.message, fallbackEligible: true };
      }
      throw err;
    }

    const placed = placeRecipients(template, job.recipients);
    const chunks = chunk(placed, cfg.maxRecipientsPerRequest).map((recipients) => ({
      recipients,
      // Keyed on message + route, not the leg: when unsent recipients come back as a new leg,
      // a chunk whose earlier send timed out still maps to the operation ACS may have run.
      operationId: operationIdFor(
        `${job.id}\0${this.route}`,
        recipients.map((r) => r.address),
      ),
    }));
    // Every chunk is checked before any is sent; bodies are rebuilt when sent so that a leg of many
    // chunks holds one near-10 MB string at a time, not one per chunk.
    const bodyOf = (recipients: readonly PlacedRecipient[]) =>
      JSON.stringify(messageFor(template, recipients));
    for (const c of chunks) {
      const bytes = Buffer.byteLength(bodyOf(c.recipients));
      if (bytes > cfg.maxRequestSize) return this.tooLarge(bytes, 'request');
    }

    let auth: { endpoint: URL; auth: Auth };
    try {
      auth = await this.resolveAuth(job.signal);
    } catch (err) {
      return this.authFailure(err);
    }

    const results: { chunk: (typeof chunks)[number]; result: ChunkResult }[] = [];
    let stop: LegFailure | undefined;
    for (const c of chunks) {
      if (stop !== undefined) {
        results.push({
          chunk: c,
          result: {
            ok: false,
            failure: { ...stop, possibleDuplicate: false, reason: `not sent: ${stop.reason}` },
          },
        });
        continue;
      }
      const body = bodyOf(c.recipients);
      const result = await this.sendChunk(job, auth, body, c.operationId);
      results.push({ chunk: c, result });
      this.deps.logger.debug(
        {
          id: job.id,
          leg: job.leg,
          operationId: c.operationId,
          recipients: c.recipients.length,
          bytes: Buffer.byteLength(body),
          ...(result.ok
            ? { status: 'Succeeded' }
            : { code: result.failure.code, reason: result.failure.reason }),
        },
        'acs: send operation',
      );
      // A transient failure (throttling, outage) will hit the next chunk too: stop and retry later.
      if (!result.ok && result.failure.outcome === 'transient') stop = result.failure;
    }
    if (results.some((r) => r.result.ok)) this.authProblem = undefined;
    return this.aggregate(results, template);
  }

  private tooLarge(bytes: number, what: string): DeliveryOutcome {
    return {
      kind: 'permanent',
      code: 'RELAY_ACS_TOO_LARGE',
      reason: `the ACS ${what} would be ${bytes} bytes; the route allows ${this.cfg.maxRequestSize} bytes per request`,
      hint: 'ACS takes 10 MB per request (base64 included); route large mail to Graph or SMTP',
      fallbackEligible: true,
    };
  }

  private authFailure(err: unknown): DeliveryOutcome {
    const relay = err instanceof RelayError ? err : undefined;
    return {
      kind: 'transient',
      code: relay?.code ?? 'RELAY_TOKEN_FAILED',
      reason: `cannot authenticate to ACS: ${(err as Error).message}`,
    };
  }

  private async resolveAuth(signal: AbortSignal): Promise<{ endpoint: URL; auth: Auth }> {
    const cfg = this.cfg;
    if (cfg.auth.type === 'accessKey') {
      const name = cfg.auth.connectionString;
      const conn = parseConnectionString(await this.deps.credentials.get(name));
      const endpoint = this.configuredEndpoint ?? checkEndpoint(conn.endpoint);
      const now = this.deps.now;
      return {
        endpoint,
        auth: {
          headers: (method, url, body) => hmacHeaders(method, url, body, conn.accessKey, new Date(now())),
          rejected: () => this.deps.credentials.invalidate(name),
        },
      };
    }
    const endpoint = this.configuredEndpoint!;
    const force = this.forceTokenRefresh;
    this.forceTokenRefresh = false;
    let token: string;
    try {
      token = await this.deps.tokens
        .forApp(cfg.auth.app)
        .getToken(cfg.auth.scope ?? ACS_SCOPE, { signal, forceRefresh: force });
    } catch (err) {
      throw new RelayError('RELAY_TOKEN_FAILED', (err as Error).message, { cause: err });
    }
    return {
      endpoint,
      auth: {
        headers: () => ({ authorization: `Bearer ${token}` }),
        rejected: () => {
          this.forceTokenRefresh = true;
        },
      },
    };
  }

  private url(endpoint: URL, path: string): URL {
    const url = new URL(endpoint.href);
    url.pathname = `${endpoint.pathname.replace(/\/+$/, '')}${path}`;
    url.search = `?api-version=${this.cfg.apiVersion}`;
    return url;
  }

  private async request(
    job: DeliveryJob,
    auth: Auth,
    method: 'GET' | 'POST',
    url: URL,
    body: string,
    extra: Record<string, string> = {},
  ): Promise<{ response: Response; json: unknown } | { failure: LegFailure }> {
    const timed = timedSignal(job.signal, this.cfg.requestTimeout);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-ms-client-request-id': randomUUID(),
      ...auth.headers(method, url, body),
      ...extra,
    };
    if (method === 'POST') headers['content-type'] = 'application/json';
    try {
      const response = await this.deps.fetch(url, {
        method,
        headers,
        ...(method === 'POST' ? { body } : {}),
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
          `${method} ${url.pathname}: ${errno === 'TIMEOUT' ? `no answer in ${this.cfg.requestTimeout} ms` : (err as Error).message}`,
        ),
      };
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
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.deps.now());
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

  private async sendChunk(
    job: DeliveryJob,
    target: { endpoint: URL; auth: Auth },
    body: string,
    operationId: string,
  ): Promise<ChunkResult> {
    const { endpoint, auth } = target;
    const statusUrl = this.url(endpoint, `/emails/operations/${operationId}`);
    // A later attempt first asks whether an earlier one already got through (a timeout after the
    // request left us): the Operation-Id is stable, so the operation can be found and resumed.
    if (job.attempt > 1) {
      const r = await this.request(job, auth, 'GET', statusUrl, '');
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
      if (r.response.status === 429) {
        this.throttledUntil = Math.max(
          this.throttledUntil,
          this.deps.now() + (failure.retryAfterMs ?? 60_000),
        );
      }
      if (failure.code === 'RELAY_ACS_AUTH_FAILED') this.authProblem = failure.reason;
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
    const deadline = this.deps.now() + this.cfg.pollTimeout;
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
        this.cfg.pollInterval,
        parseRetryAfter(response.headers.get('retry-after'), this.deps.now()) ?? 0,
      );
      if (this.deps.now() + wait > deadline) {
        return {
          ok: false,
          failure: {
            outcome: 'transient',
            code: 'RELAY_TIMEOUT',
            reason: `ACS operation ${operationId} still ${status} after ${this.cfg.pollTimeout} ms; the next attempt resumes it`,
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
      const r = await this.request(job, auth, 'GET', statusUrl, '');
      if ('failure' in r) {
        if (r.failure.outcome === 'permanent' || job.signal.aborted) return { ok: false, failure: r.failure };
        continue;
      }
      response = r.response;
      json = r.json;
    }
  }

  private aggregate(
    results: readonly {
      chunk: { recipients: readonly PlacedRecipient[]; operationId: string };
      result: ChunkResult;
    }[],
    template: AcsTemplate,
  ): DeliveryOutcome {
    const perRecipient: RecipientResult[] = results.flatMap(({ chunk: c, result }) =>
      c.recipients.map(
        (r): RecipientResult =>
          result.ok
            ? { recipient: r.address, ok: true }
            : { recipient: r.address, ok: false, failure: result.failure },
      ),
    );
    const ops = results.filter((r) => r.result.ok).map((r) => r.chunk.operationId);
    const rewrote =
      template.rewrittenFrom === undefined
        ? ''
        : ` (From ${template.rewrittenFrom} sent as ${template.base.senderAddress})`;
    return combineOutcomes(
      perRecipient,
      (accepted, total) =>
        accepted === total
          ? `ACS accepted ${total} recipient(s) in ${ops.length} operation(s)${rewrote}`
          : `ACS accepted ${accepted} of ${total} recipient(s)${rewrote}`,
      ops.join(','),
    );
  }
}

export function createAcsTransport(route: AcsRouteConfig, deps: TransportDeps): Transport {
  return new AcsTransport(route, deps);
}
