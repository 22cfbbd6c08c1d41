// Microsoft Graph mail simulator (v1.0): MIME sendMail, JSON drafts, direct attachments, attachment
// upload sessions and send, faithful to the documented API and its limits: bearer tokens verified
// against the Entra simulator (audience, expiry, app roles Mail.Send / Mail.ReadWrite), 4 MB per
// request (413), 4 concurrent requests per app+mailbox (429 + Retry-After), a per-mailbox message
// rate (429), upload-session Content-Range rules (in order, <= 4 MB per chunk, no Authorization
// header, expiry), 3 MB minimum for sessions and mailbox MaxSendSize (ErrorMessageSizeExceeded).
// What was "delivered" is kept (headers, recipients, attachment sizes and SHA-256, never whole
// bodies of large parts) for assertions. Faults can be injected per operation.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressObject, simpleParser } from 'mailparser';
import type { EntraSimulator } from './entra.ts';
import { type HttpsHandle, readBody, sendJson, startHttps } from './https-server.ts';

/**
 * Graph's size rules as ../shared/reference/microsoft-mail-apis.md states them, each in the words of
 * its source, in units of `mb` (the docs write "MB" and never say which: see GraphSimOptions.megabyte).
 * Written here from the documentation, never imported from the transport, so a wrong guess on either
 * side shows as a failing test.
 */
export function graphSizeLimits(mb: number) {
  return {
    /** A3, field reports (microsoft-graph-docs #9834, msgraph-sdk-php #1047): 413 above "4 MB" a request. */
    request: 4 * mb,
    /** A2, message-post-attachments.md: direct attachments for "files under 3 MB" only. */
    directAttachmentBelow: 3 * mb,
    /** A3, attachment-createuploadsession.md: sessions for "files of 3 MB to 150 MB"; under: ErrorAttachmentSizeShouldNotBeLessThanMinimumSize. */
    uploadSessionFrom: 3 * mb,
    uploadSessionUpTo: 150 * mb,
    /** A3, outlook-large-attachments.md: "At most 4 MB per chunk". */
    chunk: 4 * mb,
    /** A3: Exchange Online's default MaxSendSize, "35 MB". */
    defaultMaxSendSize: 35 * mb,
  } as const;
}
export type GraphSizeLimits = ReturnType<typeof graphSizeLimits>;
/** The reading of "MB" the simulator uses unless told otherwise: binary, as Exchange's limits are. */
export const MEBIBYTE = 1024 * 1024;
const MB4 = 4 * MEBIBYTE; // drain bound for refused bodies only

export interface SimMailbox {
  readonly address: string;
  /** Other addresses this mailbox holds SendAs on. */
  readonly sendAs?: readonly string[];
  /** false: no Exchange Online mailbox (404 MailboxNotEnabledForRESTAPI). */
  readonly restEnabled?: boolean;
  /** An ApplicationAccessPolicy excludes this mailbox (403 "Access to OData is disabled."). */
  readonly odataBlocked?: boolean;
  /** Exchange MaxSendSize in bytes (default 35 MB). */
  readonly maxSendSize?: number;
}

export type GraphOp =
  | 'sendMail'
  | 'createDraft'
  | 'attachment'
  | 'createUploadSession'
  | 'uploadChunk'
  | 'send'
  | 'deleteMessage';

export interface Fault {
  readonly op?: GraphOp;
  readonly mailbox?: string;
  /** How many requests it applies to (default 1). */
  times?: number;
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
  readonly headers?: Record<string, string>;
  /** Never answer (the client's timeout must fire). */
  readonly hang?: boolean;
  /**
   * Work on the request this long, then carry it out and answer as usual — even when the client has
   * stopped waiting and gone: Graph counts it against the mailbox until it is done.
   */
  readonly holdMs?: number;
  /** Do the operation, then answer with `status` anyway (a 504 after the message went out). */
  readonly afterSuccess?: boolean;
}

export interface DeliveredAttachment {
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string;
  readonly isInline: boolean;
  readonly contentId?: string;
}

export interface DeliveredMessage {
  readonly mailbox: string;
  readonly via: 'sendMail' | 'draft';
  readonly appId: string;
  readonly from?: string;
  readonly subject?: string;
  readonly to: string[];
  readonly cc: string[];
  readonly bcc: string[];
  /** To + Cc + Bcc, lower-case. */
  readonly recipients: string[];
  readonly text?: string;
  readonly html?: string;
  /** Lower-case header name → raw value (sendMail) or internetMessageHeaders (draft). */
  readonly headers: Record<string, string>;
  readonly attachments: DeliveredAttachment[];
  readonly at: number;
}

interface Draft {
  readonly id: string;
  readonly mailbox: string;
  readonly appId: string;
  readonly message: DraftJson;
  readonly attachments: DeliveredAttachment[];
  bodySize: number;
}

interface DraftJson {
  subject?: string;
  body?: { contentType?: string; content?: string };
  toRecipients?: Recipient[];
  ccRecipients?: Recipient[];
  bccRecipients?: Recipient[];
  from?: Recipient;
  replyTo?: Recipient[];
  internetMessageHeaders?: { name: string; value: string }[];
}

interface Recipient {
  emailAddress?: { address?: string; name?: string };
}

interface UploadSession {
  readonly id: string;
  readonly token: string;
  readonly draft: Draft;
  readonly name: string;
  readonly size: number;
  readonly isInline: boolean;
  readonly contentId?: string;
  readonly contentType: string;
  readonly expiresAt: number;
  readonly hash: ReturnType<typeof createHash>;
  next: number;
}

export interface GraphSimOptions {
  readonly entra: EntraSimulator;
  readonly mailboxes?: readonly SimMailbox[];
  /** Messages accepted per mailbox per minute (Exchange Online: 30). */
  readonly messagesPerMinute?: number;
  /** Concurrent requests per app+mailbox (Outlook: 4). */
  readonly maxConcurrent?: number;
  /** Retry-After (seconds) sent with a concurrency 429. */
  readonly concurrencyRetryAfter?: number;
  /** Upload session lifetime. */
  readonly uploadSessionTtlMs?: number;
  /** Header name used for Retry-After (to prove clients read it in any case). */
  readonly retryAfterHeader?: string;
  /** Service time of every counted request, in ms (a slow Graph; the bench's 100 ms fake). */
  readonly latencyMs?: number;
  /**
   * Bytes in one of the docs' "MB": 1_048_576 (default) or 1_000_000. Run a client under both to show
   * it does not depend on a guess of which one Microsoft means.
   */
  readonly megabyte?: number;
  /** The tenant whose mailboxes these are: a token issued for another tenant gets 401. */
  readonly tenantId?: string;
  /**
   * The resource the simulator answers as (token audience), e.g. https://graph.microsoft.com when it
   * stands behind a gateway name. Default: its own origin.
   */
  readonly audience?: string;
}

export interface GraphSimStats {
  requests: number;
  /** Highest number of requests in flight at once per app+mailbox. */
  maxInFlight: Map<string, number>;
  /** Requests refused because they would exceed the concurrency limit. */
  overConcurrency: number;
  /** Requests refused by the per-minute message rate. */
  overRate: number;
  status413: number;
  unauthorized: number;
  draftsCreated: number;
  draftsDeleted: number;
  uploadChunks: number;
  /** Largest request body seen. */
  largestRequest: number;
  /**
   * Each counted request's arrival and end (response sent or connection closed) in order, with the
   * app+mailbox's requests in flight after it: what a concurrency test reads the pacing from.
   */
  events: { event: 'arrive' | 'end'; key: string; inFlight: number; status?: number }[];
}

export class GraphSimulator {
  private readonly http: HttpsHandle;
  private readonly opts: GraphSimOptions;
  private readonly mailboxes = new Map<string, SimMailbox>();
  private readonly drafts = new Map<string, Draft>();
  private readonly sessions = new Map<string, UploadSession>();
  private readonly inFlight = new Map<string, number>();
  private readonly sentAt = new Map<string, number[]>();
  private readonly faults: Fault[] = [];
  readonly delivered: DeliveredMessage[] = [];
  readonly stats: GraphSimStats = {
    requests: 0,
    maxInFlight: new Map(),
    overConcurrency: 0,
    overRate: 0,
    status413: 0,
    unauthorized: 0,
    draftsCreated: 0,
    draftsDeleted: 0,
    uploadChunks: 0,
    largestRequest: 0,
    events: [],
  };
  messagesPerMinute: number;
  /** Service time of every counted request (ms); may be changed between test steps. */
  latencyMs: number;
  readonly limits: GraphSizeLimits;

  private constructor(http: HttpsHandle, opts: GraphSimOptions) {
    this.http = http;
    this.opts = opts;
    this.limits = graphSizeLimits(opts.megabyte ?? MEBIBYTE);
    this.messagesPerMinute = opts.messagesPerMinute ?? 30;
    this.latencyMs = opts.latencyMs ?? 0;
    for (const m of opts.mailboxes ?? []) this.addMailbox(m);
  }

  static async start(opts: GraphSimOptions): Promise<GraphSimulator> {
    let sim: GraphSimulator | undefined;
    const http = await startHttps((req, res) => sim?.handle(req, res));
    sim = new GraphSimulator(http, opts);
    return sim;
  }

  /** Base URL for config `cloud.graphBaseUrl`. */
  get baseUrl(): string {
    return `${this.http.url}/v1.0`;
  }

  /** Token audience: the configured resource, else the Graph origin. */
  get audience(): string {
    return this.opts.audience ?? this.http.url;
  }

  addMailbox(m: SimMailbox): void {
    this.mailboxes.set(m.address.toLowerCase(), m);
  }

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Drafts still in the mailboxes (left behind by a failed send). */
  get openDrafts(): number {
    return this.drafts.size;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    if (status === 413) this.stats.status413 += 1;
    sendJson(
      res,
      status,
      {
        error: {
          code,
          message,
          innerError: {
            date: new Date().toISOString(),
            'request-id': randomUUID(),
            'client-request-id': randomUUID(),
          },
        },
      },
      headers,
    );
  }

  private takeFault(op: GraphOp, mailbox: string): Fault | undefined {
    const i = this.faults.findIndex(
      (f) =>
        (f.op === undefined || f.op === op) &&
        (f.mailbox === undefined || f.mailbox.toLowerCase() === mailbox),
    );
    if (i < 0) return undefined;
    const f = this.faults[i] as Fault;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  private answerFault(res: ServerResponse, f: Fault): void {
    if (f.hang) return; // the client's timeout has to end it
    this.error(
      res,
      f.status ?? 500,
      f.code ?? 'ServiceUnavailable',
      f.message ?? 'injected fault',
      f.headers,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests += 1;
    const url = new URL(req.url ?? '/', this.http.url);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'upload') return this.handleUpload(req, res, parts[1] ?? '', url);
    if (parts[0] !== 'v1.0' || parts[1] !== 'users' || parts[2] === undefined) {
      return this.error(res, 400, 'BadRequest', `Resource not found for the segment '${parts[0] ?? ''}'.`);
    }
    const auth = this.opts.entra.verify(req.headers.authorization, this.audience, this.opts.tenantId);
    if (!auth.ok) {
      this.stats.unauthorized += 1;
      await readBody(req, MB4 * 2);
      return this.error(res, 401, 'InvalidAuthenticationToken', auth.message);
    }
    const appId = auth.claims.appid;
    const user = parts[2].toLowerCase();
    const rest = parts.slice(3);
    const op = opOf(req.method ?? '', rest);
    if (op === undefined)
      return this.error(res, 400, 'BadRequest', `Unsupported request ${req.method} ${url.pathname}`);
    return this.limited(`${appId}|${user}`, res, req, async () => {
      const fault = this.takeFault(op, user);
      if (fault !== undefined && !fault.afterSuccess && fault.holdMs === undefined) {
        await readBody(req, MB4 * 2);
        return this.answerFault(res, fault);
      }
      const body = await readBody(req, this.limits.request);
      if (body === undefined) {
        return this.error(res, 413, 'RequestEntityTooLarge', 'The request body is larger than 4 MB.');
      }
      if (fault?.holdMs !== undefined) await new Promise((r) => setTimeout(r, fault.holdMs));
      this.stats.largestRequest = Math.max(this.stats.largestRequest, body.length);
      const mailbox = this.mailboxes.get(user);
      if (mailbox === undefined)
        return this.error(res, 404, 'ErrorInvalidUser', `The requested user '${parts[2]}' is invalid.`);
      if (mailbox.restEnabled === false) {
        return this.error(
          res,
          404,
          'MailboxNotEnabledForRESTAPI',
          'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
        );
      }
      if (mailbox.odataBlocked)
        return this.error(res, 403, 'ErrorAccessDenied', 'Access to OData is disabled.');
      const needed = op === 'sendMail' || op === 'send' ? 'Mail.Send' : 'Mail.ReadWrite';
      const roles = auth.claims.roles;
      if (!roles.includes(needed)) {
        return this.error(
          res,
          403,
          'ErrorAccessDenied',
          'Access is denied. Check credentials and try again.',
        );
      }
      const ctx = { req, res, body, mailbox, appId, rest, fault };
      switch (op) {
        case 'sendMail':
          return this.sendMail(ctx);
        case 'createDraft':
          return this.createDraft(ctx);
        case 'attachment':
          return this.addAttachment(ctx);
        case 'createUploadSession':
          return this.createUploadSession(ctx);
        case 'send':
          return this.send(ctx);
        case 'deleteMessage':
          return this.deleteMessage(ctx);
        default:
          return this.error(res, 400, 'BadRequest', 'unsupported');
      }
    });
  }

  /** Counts the request against the app+mailbox concurrency limit for as long as it is open. */
  private async limited(
    key: string,
    res: ServerResponse,
    req: IncomingMessage,
    run: () => Promise<void>,
  ): Promise<void> {
    const now = (this.inFlight.get(key) ?? 0) + 1;
    const limit = this.opts.maxConcurrent ?? 4;
    if (now > limit) {
      this.stats.overConcurrency += 1;
      await readBody(req, MB4 * 2);
      return this.error(
        res,
        429,
        'ApplicationThrottled',
        'Application is over its MailboxConcurrency limit.',
        {
          [this.opts.retryAfterHeader ?? 'Retry-After']: String(this.opts.concurrencyRetryAfter ?? 1),
        },
      );
    }
    this.inFlight.set(key, now);
    this.stats.maxInFlight.set(key, Math.max(this.stats.maxInFlight.get(key) ?? 0, now));
    this.stats.events.push({ event: 'arrive', key, inFlight: now });
    // A request counts until the service is done with it: its work finished (latency, a held
    // fault) and its response ended or its connection gone. A client that stops waiting and closes
    // the connection does not end the work (a held request); an answer never given (a hang fault)
    // ends with the connection.
    let released = false;
    let worked = false;
    let gone = false;
    const release = () => {
      if (released || !worked) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      this.inFlight.set(key, left);
      this.stats.events.push({
        event: 'end',
        key,
        inFlight: left,
        ...(res.writableEnded && !gone ? { status: res.statusCode } : {}),
      });
    };
    res.on('close', () => {
      if (!res.writableEnded) gone = true;
      release();
    });
    res.on('finish', release);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      await run();
    } finally {
      worked = true;
    }
    // The service is done with a request once it has ended its response; 'finish' (the bytes handed
    // to the kernel) can come after the client has already read them and sent its next request.
    if (res.writableEnded || gone) release();
  }

  /** Checks the per-mailbox message rate; answers 429 and returns false when over it. */
  private rateOk(mailbox: string, res: ServerResponse): boolean {
    const now = this.opts.entra.now();
    const list = (this.sentAt.get(mailbox) ?? []).filter((t) => t > now - 60_000);
    this.sentAt.set(mailbox, list);
    if (list.length >= this.messagesPerMinute) {
      this.stats.overRate += 1;
      const wait = Math.max(1, Math.ceil(((list[0] ?? now) + 60_000 - now) / 1000));
      this.error(res, 429, 'ApplicationThrottled', 'The mailbox is over its message rate limit.', {
        [this.opts.retryAfterHeader ?? 'Retry-After']: String(wait),
      });
      return false;
    }
    return true;
  }

  private accept(
    mailbox: string,
    msg: DeliveredMessage,
    res: ServerResponse,
    fault: Fault | undefined,
  ): void {
    (this.sentAt.get(mailbox) ?? this.sentAt.set(mailbox, []).get(mailbox))?.push(this.opts.entra.now());
    this.delivered.push(msg);
    if (fault?.afterSuccess) {
      this.answerFault(res, fault);
      return;
    }
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }

  private canSendAs(mailbox: SimMailbox, from: string | undefined): boolean {
    if (from === undefined || from === '') return true;
    const f = from.toLowerCase();
    return f === mailbox.address.toLowerCase() || (mailbox.sendAs ?? []).some((a) => a.toLowerCase() === f);
  }

  private async sendMail(c: Ctx): Promise<void> {
    const type = String(c.req.headers['content-type'] ?? '');
    if (!type.startsWith('text/plain')) {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRequest',
        'The simulator implements MIME sendMail (text/plain) only.',
      );
    }
    const text = c.body.toString('latin1').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0 || text.length === 0) {
      return this.error(
        c.res,
        400,
        'ErrorMimeContentInvalidBase64String',
        'Invalid base64 string for MIME content.',
      );
    }
    const mime = Buffer.from(text, 'base64');
    const parsed = await simpleParser(mime, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
    });
    const from = addresses(parsed.from)[0];
    if (!this.canSendAs(c.mailbox, from)) return this.sendAsDenied(c.res, c.mailbox);
    const to = addresses(parsed.to);
    const cc = addresses(parsed.cc);
    const bcc = addresses(parsed.bcc);
    if (to.length + cc.length + bcc.length === 0) {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRecipients',
        'At least one recipient is not valid., Recipient is missing.',
      );
    }
    if (mime.length > (c.mailbox.maxSendSize ?? this.limits.defaultMaxSendSize)) return this.tooLarge(c.res);
    if (!this.rateOk(c.mailbox.address.toLowerCase(), c.res)) return;
    const headers: Record<string, string> = {};
    for (const line of parsed.headerLines)
      headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
    this.accept(
      c.mailbox.address.toLowerCase(),
      {
        mailbox: c.mailbox.address,
        via: 'sendMail',
        appId: c.appId,
        ...(from === undefined ? {} : { from }),
        ...(parsed.subject === undefined ? {} : { subject: parsed.subject }),
        to,
        cc,
        bcc,
        recipients: [...to, ...cc, ...bcc].map((a) => a.toLowerCase()),
        ...(parsed.text === undefined ? {} : { text: parsed.text }),
        ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
        headers,
        attachments: parsed.attachments.map((a) => ({
          name: a.filename ?? '',
          contentType: a.contentType,
          size: a.content.length,
          sha256: createHash('sha256').update(a.content).digest('hex'),
          isInline: a.contentDisposition === 'inline' || a.related === true,
          ...(a.cid === undefined ? {} : { contentId: a.cid }),
        })),
        at: Date.now(),
      },
      c.res,
      c.fault,
    );
  }

  private sendAsDenied(res: ServerResponse, mailbox: SimMailbox): void {
    this.error(
      res,
      403,
      'ErrorSendAsDenied',
      `The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message. (mailbox ${mailbox.address})`,
    );
  }

  private tooLarge(res: ServerResponse): void {
    this.error(res, 400, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
  }

  private json<T>(c: Ctx): T | undefined {
    if (!String(c.req.headers['content-type'] ?? '').startsWith('application/json')) {
      this.error(c.res, 415, 'UnsupportedMediaType', 'Content-Type must be application/json.');
      return undefined;
    }
    try {
      return JSON.parse(c.body.toString('utf8')) as T;
    } catch {
      this.error(c.res, 400, 'BadRequest', 'Unable to read JSON request payload.');
      return undefined;
    }
  }

  private draftOf(c: Ctx): Draft | undefined {
    const id = c.rest[1] ?? '';
    const d = this.drafts.get(id);
    if (d === undefined || d.mailbox !== c.mailbox.address.toLowerCase()) {
      this.error(c.res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      return undefined;
    }
    return d;
  }

  private async createDraft(c: Ctx): Promise<void> {
    const msg = this.json<DraftJson & { attachments?: unknown[] }>(c);
    if (msg === undefined) return;
    const headers = msg.internetMessageHeaders ?? [];
    if (headers.some((h) => !/^x-/i.test(h.name))) {
      return this.error(
        c.res,
        400,
        'InvalidInternetMessageHeader',
        "The internet message header name should start with 'x-' or 'X-'.",
      );
    }
    if (headers.length > 5) {
      return this.error(
        c.res,
        400,
        'InvalidInternetMessageHeaderCollection',
        'Maximum number of headers in one message should be less than or equal to 5.',
      );
    }
    if (msg.attachments !== undefined && msg.attachments.length > 0) {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRequest',
        'The simulator takes attachments through the attachments endpoint only.',
      );
    }
    const id = `AAMk${randomBytes(24).toString('base64url')}`;
    const draft: Draft = {
      id,
      mailbox: c.mailbox.address.toLowerCase(),
      appId: c.appId,
      message: msg,
      attachments: [],
      bodySize: Buffer.byteLength(msg.body?.content ?? ''),
    };
    this.drafts.set(id, draft);
    this.stats.draftsCreated += 1;
    sendJson(c.res, 201, { id, isDraft: true, subject: msg.subject ?? '' });
  }

  private async addAttachment(c: Ctx): Promise<void> {
    const draft = this.draftOf(c);
    if (draft === undefined) return;
    const a = this.json<{
      '@odata.type'?: string;
      name?: string;
      contentType?: string;
      contentBytes?: string;
      isInline?: boolean;
      contentId?: string;
    }>(c);
    if (a === undefined) return;
    if (
      a['@odata.type'] !== '#microsoft.graph.fileAttachment' ||
      typeof a.contentBytes !== 'string' ||
      !a.name
    ) {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRequest',
        'A fileAttachment needs @odata.type, name and contentBytes.',
      );
    }
    const bytes = Buffer.from(a.contentBytes, 'base64');
    if (bytes.length >= this.limits.directAttachmentBelow) {
      return this.error(
        c.res,
        413,
        'ErrorAttachmentSizeExceeded',
        'Attachments of 3 MB or more need an upload session.',
      );
    }
    draft.attachments.push({
      name: a.name,
      contentType: a.contentType ?? 'application/octet-stream',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      isInline: a.isInline === true,
      ...(a.contentId === undefined ? {} : { contentId: a.contentId }),
    });
    sendJson(c.res, 201, { id: randomUUID(), name: a.name, size: bytes.length });
  }

  private async createUploadSession(c: Ctx): Promise<void> {
    const draft = this.draftOf(c);
    if (draft === undefined) return;
    const b = this.json<{
      AttachmentItem?: {
        attachmentType?: string;
        name?: string;
        size?: number;
        isInline?: boolean;
        contentId?: string;
        contentType?: string;
      };
    }>(c);
    if (b === undefined) return;
    const item = b.AttachmentItem;
    if (item?.attachmentType !== 'file' || !item.name || typeof item.size !== 'number') {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRequest',
        'AttachmentItem needs attachmentType "file", name and size.',
      );
    }
    if (item.size < this.limits.uploadSessionFrom) {
      return this.error(
        c.res,
        400,
        'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize',
        'Attachment size should not be less than 3 MB.',
      );
    }
    if (item.size > this.limits.uploadSessionUpTo) {
      return this.error(
        c.res,
        400,
        'ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize',
        'Attachment size should not be greater than 150 MB.',
      );
    }
    const id = randomBytes(16).toString('hex');
    const session: UploadSession = {
      id,
      token: randomBytes(24).toString('base64url'),
      draft,
      name: item.name,
      size: item.size,
      isInline: item.isInline === true,
      ...(item.contentId === undefined ? {} : { contentId: item.contentId }),
      contentType: item.contentType ?? 'application/octet-stream',
      expiresAt: this.opts.entra.now() + (this.opts.uploadSessionTtlMs ?? 15 * 60_000),
      hash: createHash('sha256'),
      next: 0,
    };
    this.sessions.set(id, session);
    sendJson(c.res, 201, {
      '@odata.context': `${this.baseUrl}/$metadata#microsoft.graph.uploadSession`,
      uploadUrl: `${this.http.url}/upload/${id}?authtoken=${session.token}`,
      expirationDateTime: new Date(session.expiresAt).toISOString(),
      nextExpectedRanges: ['0-'],
    });
  }

  private async handleUpload(req: IncomingMessage, res: ServerResponse, id: string, url: URL): Promise<void> {
    const s = this.sessions.get(id);
    if (s === undefined || s.expiresAt < this.opts.entra.now()) {
      if (s !== undefined) this.sessions.delete(id);
      await readBody(req, MB4 * 2);
      return this.error(res, 404, 'ErrorItemNotFound', 'The upload session was not found or has expired.');
    }
    if (url.searchParams.get('authtoken') !== s.token) {
      await readBody(req, MB4 * 2);
      return this.error(res, 401, 'InvalidAuthenticationToken', 'The upload URL was altered.');
    }
    if (req.headers.authorization !== undefined) {
      await readBody(req, MB4 * 2);
      return this.error(
        res,
        400,
        'ErrorInvalidRequest',
        'Do not send an Authorization header to the pre-authenticated upload URL.',
      );
    }
    const key = `${s.draft.appId}|${s.draft.mailbox}`;
    return this.limited(key, res, req, async () => {
      if (req.method === 'DELETE') {
        this.sessions.delete(id);
        res.writeHead(204);
        res.end();
        return;
      }
      const fault = this.takeFault('uploadChunk', s.draft.mailbox);
      if (fault !== undefined) {
        await readBody(req, MB4 * 2);
        return this.answerFault(res, fault);
      }
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
      const body = await readBody(req, this.limits.chunk);
      this.stats.uploadChunks += 1;
      if (body === undefined)
        return this.error(res, 413, 'RequestEntityTooLarge', 'A chunk may not exceed 4 MB.');
      this.stats.largestRequest = Math.max(this.stats.largestRequest, body.length);
      if (range === null)
        return this.error(res, 400, 'InvalidContentRange', 'Content-Range must be "bytes start-end/total".');
      const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
      if (total !== s.size)
        return this.error(
          res,
          400,
          'InvalidContentRange',
          `Total ${total} does not match the session size ${s.size}.`,
        );
      if (start !== s.next) {
        return this.error(res, 416, 'InvalidRange', `Expected range starting at ${s.next}.`);
      }
      if (end < start || end >= total || end - start + 1 !== body.length) {
        return this.error(res, 400, 'InvalidContentRange', 'Content-Range does not match the body length.');
      }
      if (Number(req.headers['content-length']) !== body.length) {
        return this.error(res, 400, 'InvalidContentLength', 'Content-Length does not match the body.');
      }
      s.hash.update(body);
      s.next = end + 1;
      if (s.next < s.size) {
        sendJson(res, 200, {
          expirationDateTime: new Date(s.expiresAt).toISOString(),
          nextExpectedRanges: [`${s.next}-`],
        });
        return;
      }
      this.sessions.delete(id);
      const attId = randomUUID();
      s.draft.attachments.push({
        name: s.name,
        contentType: s.contentType,
        size: s.size,
        sha256: s.hash.digest('hex'),
        isInline: s.isInline,
        ...(s.contentId === undefined ? {} : { contentId: s.contentId }),
      });
      res.writeHead(201, {
        Location: `${this.baseUrl}/users('${s.draft.mailbox}')/messages('${s.draft.id}')/attachments('${attId}')`,
        'content-length': '0',
      });
      res.end();
    });
  }

  private async send(c: Ctx): Promise<void> {
    const draft = this.draftOf(c);
    if (draft === undefined) return;
    if (c.body.length !== 0) return this.error(c.res, 400, 'ErrorInvalidRequest', 'send takes no body.');
    const m = draft.message;
    const list = (r?: Recipient[]) => (r ?? []).map((x) => x.emailAddress?.address ?? '').filter(Boolean);
    const to = list(m.toRecipients);
    const cc = list(m.ccRecipients);
    const bcc = list(m.bccRecipients);
    if (to.length + cc.length + bcc.length === 0) {
      return this.error(
        c.res,
        400,
        'ErrorInvalidRecipients',
        'At least one recipient is not valid., Recipient is missing.',
      );
    }
    const from = m.from?.emailAddress?.address;
    if (!this.canSendAs(c.mailbox, from)) return this.sendAsDenied(c.res, c.mailbox);
    const total = draft.bodySize + draft.attachments.reduce((n, a) => n + a.size, 0);
    if (total > (c.mailbox.maxSendSize ?? this.limits.defaultMaxSendSize)) return this.tooLarge(c.res);
    if (!this.rateOk(draft.mailbox, c.res)) return;
    this.drafts.delete(draft.id);
    const headers: Record<string, string> = {};
    for (const h of m.internetMessageHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    const isHtml = m.body?.contentType?.toLowerCase() === 'html';
    this.accept(
      draft.mailbox,
      {
        mailbox: c.mailbox.address,
        via: 'draft',
        appId: c.appId,
        ...(from === undefined ? {} : { from }),
        ...(m.subject === undefined ? {} : { subject: m.subject }),
        to,
        cc,
        bcc,
        recipients: [...to, ...cc, ...bcc].map((a) => a.toLowerCase()),
        ...(m.body?.content === undefined
          ? {}
          : isHtml
            ? { html: m.body.content }
            : { text: m.body.content }),
        headers,
        attachments: draft.attachments,
        at: Date.now(),
      },
      c.res,
      c.fault,
    );
  }

  private async deleteMessage(c: Ctx): Promise<void> {
    const draft = this.draftOf(c);
    if (draft === undefined) return;
    this.drafts.delete(draft.id);
    this.stats.draftsDeleted += 1;
    c.res.writeHead(204);
    c.res.end();
  }
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Buffer;
  readonly mailbox: SimMailbox;
  readonly appId: string;
  readonly rest: string[];
  readonly fault: Fault | undefined;
}

function opOf(method: string, rest: string[]): GraphOp | undefined {
  const path = rest.map((p, i) => (i === 1 && rest[0] === 'messages' ? ':id' : p)).join('/');
  if (method === 'POST' && path === 'sendMail') return 'sendMail';
  if (method === 'POST' && path === 'messages') return 'createDraft';
  if (method === 'POST' && path === 'messages/:id/attachments') return 'attachment';
  if (method === 'POST' && path === 'messages/:id/attachments/createUploadSession')
    return 'createUploadSession';
  if (method === 'POST' && path === 'messages/:id/send') return 'send';
  if (method === 'DELETE' && path === 'messages/:id') return 'deleteMessage';
  return undefined;
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  if (field === undefined) return [];
  const out: string[] = [];
  const walk = (list: AddressObject['value']) => {
    for (const a of list) {
      if (a.address) out.push(a.address);
      if (a.group) walk(a.group);
    }
  };
  for (const f of Array.isArray(field) ? field : [field]) walk(f.value);
  return out;
}
