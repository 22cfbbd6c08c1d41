// Microsoft Graph transport (issue 4). Delivers one leg of a spooled message through the sending
// mailbox: small messages as one MIME sendMail (envelope-only recipients added as Bcc:, since Graph
// reads recipients from the content), large ones as a JSON draft + attachments (direct under 3 MB,
// upload sessions in <= 4 MB chunks streamed from the spool file) + send. Every request goes through
// the (app, mailbox) limiter, carries a timeout and the job's abort signal, refreshes the token once
// on 401 and honours Retry-After on 429/503. Failures become outcomes through graph-errors.ts. Touches
// the network (injected fetch) and reads the spool file; never writes the spool.
import type { TokenSource } from '../../auth/token-source.ts';
import { resolveCloud } from '../../config/cloud.ts';
import type { RouteConfig } from '../../config/schema.ts';
import { isRelayError } from '../../errors.ts';
import type { FailureFacts } from '../failure.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
  type TransportHealth,
} from '../transport.ts';
import { classifyGraphFailure } from './graph-errors.ts';
import { type MailboxLimiter, MailboxLimiters } from './graph-limiter.ts';
import {
  eachAttachment,
  type NamedAddress,
  prepareSendMailMime,
  type ScannedAttachment,
  scanMessage,
} from './graph-mime.ts';

export type GraphRouteConfig = Extract<RouteConfig, { type: 'graph' }>;

/** Attachments below this go in one JSON request; from it on, an upload session (docs: "3 MB"). */
export const DIRECT_ATTACHMENT_LIMIT = 3_000_000;
/** Upload chunk: under 4 MB however Graph counts a megabyte, and a multiple of 320 KiB. */
export const UPLOAD_CHUNK = 3_932_160;
const MAX_THROTTLE_RETRIES = 4;

export interface GraphTransportOptions {
  /** Share limiters between routes that use the same app and mailboxes. */
  readonly limiters?: MailboxLimiters;
}

/** A failed Graph step, described as facts for the classification table. */
class GraphStepError extends Error {
  readonly facts: FailureFacts;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, facts: FailureFacts, retryAfterMs?: number) {
    super(message);
    this.facts = facts;
    this.retryAfterMs = retryAfterMs;
  }
}

interface Attempt {
  readonly job: DeliveryJob;
  readonly mailbox: string;
  readonly limiter: MailboxLimiter;
  /** https://graph.../v1.0/users/{mailbox} */
  readonly base: string;
  readonly signal: AbortSignal;
}

interface GraphRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Upload URLs are pre-authenticated: no Authorization header. */
  readonly auth: boolean;
  /** The service may act on it even if we see a failure (sendMail, send). */
  readonly duplicateRisk?: boolean;
}

interface GraphResponse {
  readonly status: number;
  readonly text: string;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function graphError(text: string): { code?: string; message?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return {
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.message === 'string' ? { message: e.message } : {}),
    };
  } catch {
    return {};
  }
}

function errnoOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e !== undefined && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function recipient(a: NamedAddress): { emailAddress: { address: string; name?: string } } {
  return { emailAddress: a.name ? { address: a.address, name: a.name } : { address: a.address } };
}

export class GraphTransport implements Transport {
  readonly route: string;
  readonly type = 'graph' as const;
  readonly keyConcurrency: number;
  private readonly cfg: GraphRouteConfig;
  private readonly deps: TransportDeps;
  private readonly tokens: TokenSource;
  private readonly graphBaseUrl: string;
  private readonly scope: string;
  private readonly limiters: MailboxLimiters;
  private lastAuthProblem: { at: number; reason: string } | undefined;

  constructor(cfg: GraphRouteConfig, deps: TransportDeps, options: GraphTransportOptions = {}) {
    this.route = cfg.name;
    this.cfg = cfg;
    this.deps = deps;
    this.keyConcurrency = cfg.mailboxConcurrency;
    const cloud = deps.cloud ?? resolveCloud({ preset: 'global', requestTimeout: 30_000 });
    this.graphBaseUrl = cloud.graphBaseUrl;
    this.scope = cloud.graphScope;
    this.tokens = deps.tokens.forApp({
      tenantId: cfg.tenantId,
      clientId: cfg.clientId,
      ...(cfg.clientSecret === undefined ? {} : { clientSecret: cfg.clientSecret }),
      ...(cfg.clientCertificate === undefined ? {} : { clientCertificate: cfg.clientCertificate }),
      authorityHost: cloud.authorityHost,
    });
    this.limiters =
      options.limiters ??
      new MailboxLimiters({
        maxConcurrent: cfg.mailboxConcurrency,
        messagesPerMinute: cfg.messagesPerMinute,
        now: deps.now,
      });
  }

  /** Identity/rule sendAs first, then the route's fixed mailbox, then the envelope sender. */
  mailboxFor(job: DeliveryJob): string | undefined {
    const m = job.sendAs ?? this.cfg.mailbox ?? job.mailFrom;
    return m === '' ? undefined : m;
  }

  concurrencyKey(job: DeliveryJob): string | undefined {
    const m = this.mailboxFor(job);
    return m === undefined ? undefined : `${this.cfg.tenantId}|${this.cfg.clientId}|${m.toLowerCase()}`;
  }

  /** Peak concurrent requests any (app, mailbox) reached (bench and tests). */
  get peakConcurrency(): number {
    return this.limiters.peakActive;
  }

  health(): TransportHealth {
    const p = this.lastAuthProblem;
    return p === undefined
      ? { ok: true }
      : { ok: false, detail: `${new Date(p.at).toISOString()}: ${p.reason}` };
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const mailbox = this.mailboxFor(job);
    if (mailbox === undefined) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_NO_MAILBOX',
        reason: 'null envelope sender (a bounce) and no fixed mailbox on the route',
        hint: 'set the route mailbox (or an identity sendAs) to the mailbox that should send such messages',
        fallbackEligible: true,
      };
    }
    if (job.message.length > this.cfg.maxMessageSize) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
        reason: `message is ${job.message.length} bytes; the route allows ${this.cfg.maxMessageSize}`,
        hint: 'Graph upload sessions stop at 150 MB; route larger messages elsewhere (fallback)',
        fallbackEligible: true,
      };
    }
    const key = this.concurrencyKey(job) as string;
    const a: Attempt = {
      job,
      mailbox,
      limiter: this.limiters.get(key),
      base: `${this.graphBaseUrl}/users/${encodeURIComponent(mailbox)}`,
      signal: job.signal,
    };
    try {
      const outcome = await this.send(a);
      this.lastAuthProblem = undefined;
      return outcome;
    } catch (err) {
      return this.outcomeOf(err, a);
    }
  }

  private async send(a: Attempt): Promise<DeliveryOutcome> {
    const { job } = a;
    const rewriteFrom = this.cfg.rewriteFrom ? { rewriteFromTo: a.mailbox } : {};
    if (job.message.length <= this.cfg.sendMailMaxSize) {
      const raw = await readAll(job);
      const prepared = prepareSendMailMime(raw, { recipients: job.recipients, ...rewriteFrom });
      if (prepared.foreignRecipients.length === 0) {
        await a.limiter.messageTurn(a.signal);
        await this.request(a, 'sendMail', {
          method: 'POST',
          url: `${a.base}/sendMail`,
          body: prepared.mime.toString('base64'),
          contentType: 'text/plain',
          auth: true,
          duplicateRisk: true,
        });
        const bcc =
          prepared.addedBcc.length > 0
            ? `; ${prepared.addedBcc.length} envelope-only recipient(s) as Bcc`
            : '';
        return { kind: 'delivered', detail: `Graph sendMail accepted (202) as ${a.mailbox}${bcc}` };
      }
      // To/Cc name people who are not on this leg (another route or nobody serves them): MIME
      // sendMail would deliver to them too, so send a draft with explicit recipients instead.
      if (!this.cfg.largeMessages) {
        return {
          kind: 'permanent',
          code: 'RELAY_GRAPH_PERMISSION_MISSING',
          reason: `To/Cc name ${prepared.foreignRecipients.length} address(es) outside this delivery; MIME sendMail would send to them too`,
          hint: 'set largeMessages: true (needs Mail.ReadWrite) so Graph sends to this leg only, or route all recipients together',
          fallbackEligible: true,
        };
      }
    } else if (!this.cfg.largeMessages) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
        reason: `message is ${job.message.length} bytes, over sendMailMaxSize ${this.cfg.sendMailMaxSize}, and largeMessages is off`,
        hint: 'set largeMessages: true (grant Mail.ReadWrite) or give the route a fallback for large messages',
        fallbackEligible: true,
      };
    }
    return this.sendDraft(a);
  }

  private async sendDraft(a: Attempt): Promise<DeliveryOutcome> {
    const { job } = a;
    const scan = await scanMessage(job.message);
    const leg = new Map(job.recipients.map((r) => [r.toLowerCase(), r]));
    const take = (list: readonly NamedAddress[], used: Set<string>) =>
      list.filter((x) => {
        const k = x.address.toLowerCase();
        if (!leg.has(k) || used.has(k)) return false;
        used.add(k);
        return true;
      });
    const used = new Set<string>();
    const to = take(scan.to, used);
    const cc = take(scan.cc, used);
    const named = new Map(scan.bcc.map((b) => [b.address.toLowerCase(), b]));
    const bcc = [...leg].filter(([k]) => !used.has(k)).map(([k, r]) => named.get(k) ?? { address: r });
    const from = this.cfg.rewriteFrom ? { address: a.mailbox } : scan.from;
    const replyTo =
      scan.replyTo.length > 0 ? scan.replyTo : this.cfg.rewriteFrom && scan.from ? [scan.from] : [];
    const draft = {
      subject: scan.subject ?? '',
      body:
        scan.html !== undefined
          ? { contentType: 'HTML', content: scan.html }
          : { contentType: 'Text', content: scan.text ?? '' },
      toRecipients: to.map(recipient),
      ccRecipients: cc.map(recipient),
      bccRecipients: bcc.map(recipient),
      ...(from === undefined ? {} : { from: recipient(from) }),
      ...(replyTo.length > 0 ? { replyTo: replyTo.map(recipient) } : {}),
      ...(scan.importance === undefined ? {} : { importance: scan.importance }),
      ...(scan.xHeaders.length > 0 ? { internetMessageHeaders: scan.xHeaders } : {}),
    };
    const created = await this.request(a, 'createDraft', {
      method: 'POST',
      url: `${a.base}/messages`,
      body: JSON.stringify(draft),
      contentType: 'application/json',
      auth: true,
    });
    const id = (JSON.parse(created.text) as { id?: string }).id;
    if (typeof id !== 'string') throw new Error('Graph created a draft without an id');
    const messageUrl = `${a.base}/messages/${encodeURIComponent(id)}`;
    let uploaded = 0;
    try {
      await eachAttachment(job.message, async (content, index) => {
        const att = scan.attachments[index];
        if (att === undefined) throw new Error('the message changed between the two parsing passes');
        if (att.size < DIRECT_ATTACHMENT_LIMIT) {
          await this.attachDirect(a, messageUrl, att, content);
        } else {
          await this.upload(a, messageUrl, att, content);
          uploaded += 1;
        }
      });
      await a.limiter.messageTurn(a.signal);
      await this.request(a, 'send', {
        method: 'POST',
        url: `${messageUrl}/send`,
        body: '',
        auth: true,
        duplicateRisk: true,
      });
    } catch (err) {
      // A draft that may already be on its way must stay; any other is removed so none pile up.
      if (!(err instanceof GraphStepError && classifyGraphFailure(err.facts).possibleDuplicate))
        await this.deleteDraft(a, messageUrl);
      throw err;
    }
    return {
      kind: 'delivered',
      detail: `Graph draft sent (202) as ${a.mailbox}: ${scan.attachments.length} attachment(s), ${uploaded} by upload session; ${bcc.length} Bcc`,
      remoteId: id,
    };
  }

  private async attachDirect(
    a: Attempt,
    messageUrl: string,
    att: ScannedAttachment,
    content: AsyncIterable<Buffer>,
  ) {
    const chunks: Buffer[] = [];
    for await (const c of content) chunks.push(Buffer.from(c));
    await this.request(a, 'attachment', {
      method: 'POST',
      url: `${messageUrl}/attachments`,
      body: JSON.stringify({
        '@odata.type': '#microsoft.graph.fileAttachment',
        name: att.name,
        contentType: att.contentType,
        contentBytes: Buffer.concat(chunks).toString('base64'),
        ...(att.isInline ? { isInline: true } : {}),
        ...(att.contentId === undefined ? {} : { contentId: att.contentId }),
      }),
      contentType: 'application/json',
      auth: true,
    });
  }

  /** Streams one attachment into an upload session, one <= 4 MB chunk in memory at a time. */
  private async upload(
    a: Attempt,
    messageUrl: string,
    att: ScannedAttachment,
    content: AsyncIterable<Buffer>,
  ) {
    const session = await this.request(a, 'createUploadSession', {
      method: 'POST',
      url: `${messageUrl}/attachments/createUploadSession`,
      body: JSON.stringify({
        AttachmentItem: {
          attachmentType: 'file',
          name: att.name,
          size: att.size,
          contentType: att.contentType,
          ...(att.isInline ? { isInline: true } : {}),
          ...(att.contentId === undefined ? {} : { contentId: att.contentId }),
        },
      }),
      contentType: 'application/json',
      auth: true,
    });
    const uploadUrl = (JSON.parse(session.text) as { uploadUrl?: string }).uploadUrl;
    if (typeof uploadUrl !== 'string')
      throw new Error('Graph created an upload session without an uploadUrl');
    const buf = Buffer.allocUnsafe(UPLOAD_CHUNK);
    let fill = 0;
    let offset = 0;
    const put = async () => {
      await this.request(a, 'uploadChunk', {
        method: 'PUT',
        url: uploadUrl,
        body: buf.subarray(0, fill),
        contentType: 'application/octet-stream',
        headers: { 'content-range': `bytes ${offset}-${offset + fill - 1}/${att.size}` },
        auth: false,
      });
      offset += fill;
      fill = 0;
    };
    for await (const chunk of content) {
      let pos = 0;
      while (pos < chunk.length) {
        const n = Math.min(UPLOAD_CHUNK - fill, chunk.length - pos);
        chunk.copy(buf, fill, pos, pos + n);
        fill += n;
        pos += n;
        if (fill === UPLOAD_CHUNK) await put();
      }
    }
    if (fill > 0) await put();
    if (offset !== att.size)
      throw new Error(`attachment ${att.name}: uploaded ${offset} bytes, scanned ${att.size}`);
  }

  private async deleteDraft(a: Attempt, messageUrl: string): Promise<void> {
    try {
      await this.request({ ...a, signal: AbortSignal.timeout(this.cfg.requestTimeout) }, 'deleteMessage', {
        method: 'DELETE',
        url: messageUrl,
        auth: true,
      });
    } catch (err) {
      this.deps.logger.warn(
        { err, route: this.route, id: a.job.id },
        'could not delete the Graph draft of a failed send',
      );
    }
  }

  /** One Graph request: limiter, token (refreshed once on 401), timeout, Retry-After on 429/503. */
  private async request(a: Attempt, op: string, r: GraphRequest): Promise<GraphResponse> {
    let forceRefresh = false;
    let tokenRetried = false;
    let throttled = 0;
    for (;;) {
      const res = await a.limiter.run(() => this.once(a, op, r, forceRefresh), a.signal);
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 401 && r.auth && !tokenRetried) {
        tokenRetried = true;
        forceRefresh = true;
        continue;
      }
      const wait = retryAfterMs(res.headers.get('retry-after'), this.deps.now());
      const err = graphError(res.text);
      const facts: FailureFacts = {
        transport: 'graph',
        httpStatus: res.status,
        operation: op,
        requestSent: r.duplicateRisk === true,
        ...(err.code === undefined ? {} : { serviceCode: err.code }),
        ...(err.message === undefined ? {} : { message: err.message }),
      };
      if ((res.status === 429 || res.status === 503) && throttled < MAX_THROTTLE_RETRIES) {
        const delay = Math.min(wait ?? 1000 * 2 ** throttled, this.cfg.maxRetryAfter + 1);
        if (delay <= this.cfg.maxRetryAfter) {
          throttled += 1;
          // Every request for this mailbox holds off, not just this one.
          a.limiter.pause(delay);
          this.deps.logger.debug(
            { route: this.route, op, status: res.status, delay },
            'Graph throttled; waiting',
          );
          continue;
        }
      }
      if (res.status === 401)
        this.lastAuthProblem = { at: this.deps.now(), reason: `${op}: 401 ${err.message ?? ''}` };
      const what = `${op}: HTTP ${res.status}${err.code ? ` ${err.code}` : ''}${err.message ? `: ${err.message}` : ''} (mailbox ${a.mailbox})`;
      throw new GraphStepError(what, facts, wait);
    }
  }

  private async once(
    a: Attempt,
    op: string,
    r: GraphRequest,
    forceRefresh: boolean,
  ): Promise<GraphResponse & { headers: Headers }> {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.auth) {
      headers.authorization = `Bearer ${await this.tokens.getToken(this.scope, { forceRefresh, signal: a.signal })}`;
    }
    const timeout = AbortSignal.timeout(this.cfg.requestTimeout);
    const signal = AbortSignal.any([a.signal, timeout]);
    try {
      const res = await this.deps.fetch(r.url, {
        method: r.method,
        headers,
        ...bodyInit(r.body, headers),
        signal,
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    } catch (err) {
      const errno = a.signal.aborted ? 'ABORT' : timeout.aborted ? 'TIMEOUT' : (errnoOf(err) ?? 'ECONNRESET');
      const sent = r.duplicateRisk === true && errno !== 'ECONNREFUSED' && errno !== 'ABORT';
      throw new GraphStepError(
        `${op}: ${errno === 'TIMEOUT' ? `no answer within ${this.cfg.requestTimeout} ms` : errno} (mailbox ${a.mailbox})`,
        {
          transport: 'graph',
          errno,
          operation: op,
          requestSent: sent,
        },
      );
    }
  }

  private outcomeOf(err: unknown, a: Attempt): DeliveryOutcome {
    if (err instanceof GraphStepError) {
      const c = classifyGraphFailure(err.facts);
      if (c.outcome === 'transient') {
        return {
          kind: 'transient',
          code: c.code,
          reason: err.message,
          ...(c.hint === undefined ? {} : { hint: c.hint }),
          ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
          ...(c.possibleDuplicate
            ? {
                possibleDuplicate: true,
                hint: `${c.hint ? `${c.hint}; ` : ''}the request may have been processed: check the mailbox's Sent Items before resending`,
              }
            : {}),
        };
      }
      return {
        kind: 'permanent',
        code: c.code,
        reason: err.message,
        ...(c.hint === undefined ? {} : { hint: c.hint }),
        ...(c.fallbackEligible === undefined ? {} : { fallbackEligible: c.fallbackEligible }),
      };
    }
    if (isRelayError(err)) {
      if (err.code === 'RELAY_TOKEN_FAILED' || err.code === 'RELAY_CREDENTIAL_UNAVAILABLE') {
        this.lastAuthProblem = { at: this.deps.now(), reason: err.message };
      }
      return { kind: 'transient', code: err.code, reason: err.message };
    }
    if (a.signal.aborted) {
      return {
        kind: 'transient',
        code: 'RELAY_DELIVERY_TRANSIENT',
        reason: 'aborted (shutdown)',
        hint: 'shutdown aborted the attempt',
      };
    }
    const message = (err as Error)?.message ?? String(err);
    this.deps.logger.warn({ err, route: this.route, id: a.job.id }, 'Graph delivery failed unexpectedly');
    return { kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', reason: message };
  }
}

/**
 * Large binary bodies (upload chunks) go as a one-chunk stream with an explicit Content-Length:
 * fetch copies a Buffer body, and 40 copies of a 4 MB chunk per 150 MB message would be garbage the
 * collector only reclaims late, which is where peak memory came from.
 */
function bodyInit(body: string | Buffer | undefined, headers: Record<string, string>): RequestInit {
  if (body === undefined) return {};
  if (typeof body === 'string' || body.length < 65_536) return { body };
  headers['content-length'] = String(body.length);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(body);
      controller.close();
    },
  });
  return { body: stream, duplex: 'half' } as RequestInit;
}

async function readAll(job: DeliveryJob): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of openMessage(job.message) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Outlook's limits are per (app, mailbox), not per route: routes of one app share limiters, so two
 * routes sending through the same mailbox still stay within 4 requests at once. The first route of an
 * app sets the pacing; give such routes the same mailboxConcurrency and messagesPerMinute.
 */
const appLimiters = new Map<string, MailboxLimiters>();

export function createGraphTransport(route: GraphRouteConfig, deps: TransportDeps): GraphTransport {
  const key = `${route.tenantId}|${route.clientId}`;
  let limiters = appLimiters.get(key);
  if (limiters === undefined) {
    limiters = new MailboxLimiters({
      maxConcurrent: route.mailboxConcurrency,
      messagesPerMinute: route.messagesPerMinute,
      now: deps.now,
    });
    appLimiters.set(key, limiters);
  }
  return new GraphTransport(route, deps, { limiters });
}
