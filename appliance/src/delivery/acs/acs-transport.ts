// ACS Email REST transport: converts the spooled MIME to `EmailMessage` JSON (acs-mime.ts), sends it
// with `POST {endpoint}/emails:send` signed by the access key (HMAC, acs-auth.ts) or an Entra token,
// and polls the send operation until it is terminal (acs-client.ts). Legs above the recipient limit become several
// operations; each has an Operation-Id derived from the leg's idempotency key and its recipients, so
// a retry resumes (or re-finds) the same operation instead of sending twice. Touches only the network
// (injected fetch), credentials and tokens; never the spool.
import type { RouteConfig } from '../../config/schema.ts';
import { RelayError } from '../../errors.ts';
import { chunk, combineOutcomes, type LegFailure, type RecipientResult } from '../recipient-outcomes.ts';
import type {
  DeliveryJob,
  DeliveryOutcome,
  Transport,
  TransportDeps,
  TransportHealth,
} from '../transport.ts';
import { ACS_SCOPE, hmacHeadersFor, parseConnectionString } from './acs-auth.ts';
import { parseSpooled } from './acs-base64-copy.ts';
import { acsBody, bodyPlan, type StreamedBody } from './acs-body.ts';
import { AcsClient, type Auth, type ChunkResult, checkEndpoint, operationIdFor } from './acs-client.ts';
import {
  type AcsTemplate,
  buildTemplate,
  DEFAULT_PASS_HEADERS,
  type PlacedRecipient,
  parseMime,
  placeRecipients,
} from './acs-mime.ts';

export type AcsRouteConfig = Extract<RouteConfig, { type: 'acs' }>;

export { ACS_SCOPE } from './acs-auth.ts';

export class AcsTransport implements Transport {
  readonly route: string;
  readonly type = 'acs' as const;
  private readonly cfg: AcsRouteConfig;
  private readonly deps: TransportDeps;
  private readonly configuredEndpoint: URL | undefined;
  private readonly client: AcsClient;
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
    this.client = new AcsClient({
      apiVersion: cfg.apiVersion,
      requestTimeout: cfg.requestTimeout,
      pollInterval: cfg.pollInterval,
      pollTimeout: cfg.pollTimeout,
      fetch: deps.fetch,
      now: deps.now,
      onThrottled: (ms) => {
        this.throttledUntil = Math.max(this.throttledUntil, deps.now() + (ms ?? 60_000));
      },
      onAuthRefused: (reason) => {
        this.authProblem = reason;
      },
    });
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
      // Parsed from the spool file as a stream: the raw message is never held whole, and base64
      // attachments stay in the file until the request copies them from there.
      const { mail, spooled } = await parseSpooled(job.message, parseMime);
      template = buildTemplate(
        mail,
        job.mailFrom,
        {
          sender: {
            senderAddress: cfg.senderAddress,
            provisionedSenders: cfg.provisionedSenders,
            replyToOriginalSender: cfg.replyToOriginalSender,
          },
          passHeaders: [...DEFAULT_PASS_HEADERS, ...cfg.passHeaders],
          userEngagementTrackingDisabled: cfg.userEngagementTrackingDisabled,
        },
        spooled,
      );
    } catch (err) {
      return mimeInvalid(err);
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
    // Every chunk is checked before any is sent. Bodies are streamed (acs-body.ts): the base64 of
    // the attachments is made or copied piece by piece while the request is written, never held whole.
    for (const c of chunks) {
      const bytes = bodyPlan(template, c.recipients).bytes;
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
      let body: StreamedBody;
      try {
        body = await acsBody(template, c.recipients);
      } catch (err) {
        return mimeInvalid(err);
      }
      const result = await this.client.sendChunk(job, auth, body, c.operationId);
      results.push({ chunk: c, result });
      this.deps.logger.debug(
        {
          id: job.id,
          leg: job.leg,
          operationId: c.operationId,
          recipients: c.recipients.length,
          bytes: body.bytes,
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
          headers: (method, url, hash) => hmacHeadersFor(method, url, hash, conn.accessKey, new Date(now())),
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

/** A message that cannot become an ACS request; a route that sends the bytes as they are (SMTP) may still take it. */
function mimeInvalid(err: unknown): DeliveryOutcome {
  if (err instanceof RelayError && err.code === 'RELAY_ACS_MIME_INVALID') {
    return { kind: 'permanent', code: err.code, reason: err.message, fallbackEligible: true };
  }
  throw err;
}

export function createAcsTransport(route: AcsRouteConfig, deps: TransportDeps): Transport {
  return new AcsTransport(route, deps);
}
