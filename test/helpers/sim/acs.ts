// A simulator of the ACS Email data plane (api-version 2025-09-01 and 2023-03-31) over HTTPS on
// 127.0.0.1:0 with the test CA's certificate (the transport speaks https only, as to Azure).
// It does what the documented service does and refuses what it refuses: HMAC-SHA256 access-key
// signatures verified exactly (content hash, string-to-sign with host:port, date skew) or Entra
// bearer tokens verified by the Entra simulator (audience https://communication.azure.com, lifetime,
// tenant; a principal without a role on the resource gets 403); 10 MB per request, 50 recipients, `to` required; provisioned senders only; send
// and status rate limits answered with 429 + Retry-After; caller-chosen Operation-Id as the
// idempotency key; operations that run, then end Succeeded or Failed. It stores every accepted
// message for tests to compare. Its signature check is written here on purpose, apart from the
// transport's signer, so the two cannot share a bug.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EntraSimulator } from './entra.ts';
import { type HttpsHandle, startHttps } from './https-server.ts';

/** Token audience of the Communication data plane (reference B2: scope https://communication.azure.com/.default). */
export const ACS_RESOURCE = 'https://communication.azure.com';

export interface AcsAddressJson {
  address: string;
  displayName?: string;
}

export interface AcsMessageJson {
  senderAddress: string;
  content: { subject: string; plainText?: string; html?: string };
  recipients: { to: AcsAddressJson[]; cc?: AcsAddressJson[]; bcc?: AcsAddressJson[] };
  attachments?: { name: string; contentType: string; contentInBase64: string; contentId?: string }[];
  replyTo?: AcsAddressJson[];
  headers?: Record<string, string>;
  userEngagementTrackingDisabled?: boolean;
}

export interface SentEmail {
  readonly operationId: string;
  readonly apiVersion: string;
  readonly message: AcsMessageJson;
  readonly bytes: number;
  readonly auth: 'hmac' | 'bearer';
}

export interface Operation {
  readonly id: string;
  status: 'NotStarted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';
  polls: number;
  error?: { code: string; message: string };
  final: { status: 'Succeeded' } | { status: 'Failed'; error: { code: string; message: string } };
}

export interface AcsFault {
  readonly status: number;
  readonly code: string;
  readonly message?: string;
  readonly retryAfterSeconds?: number;
}

export interface AcsSimulatorOptions {
  /** Base64 access key; random by default. */
  accessKey?: string;
  /** Verifies Entra bearer tokens (omit to refuse bearer auth). */
  entra?: EntraSimulator;
  /** The resource's tenant: a token issued for another tenant is refused. */
  tenantId?: string;
  /**
   * App ids holding a role on the Communication resource; others get 403 AuthorizationFailed, as
   * Azure RBAC answers. Omitted: every app whose token verifies.
   */
  roleHolders?: ReadonlySet<string>;
  /** Provisioned MailFrom addresses (sender usernames on linked domains). */
  senders: readonly string[];
  maxRequestBytes?: number;
  maxRecipients?: number;
  sendPerMinute?: number;
  sendPerHour?: number;
  statusPerMinute?: number;
  statusPerHour?: number;
  /** Allowed |x-ms-date - now|; Azure allows 15 minutes. */
  maxDateSkewMs?: number;
  /** Status polls an operation answers Running before it turns terminal. */
  runningPolls?: number;
  /** retry-after (s) on 202 and on non-terminal status. */
  pollRetryAfterSeconds?: number;
  /** Terminal outcome of each accepted message; Succeeded by default. */
  outcome?: (message: AcsMessageJson) => Operation['final'];
  now?: () => number;
}

const API_VERSIONS = new Set(['2023-03-31', '2025-09-01']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Padded base64 only (length a multiple of 4): stricter than the docs say, as .NET's
// Convert.FromBase64String is; relaykit sends canonical text, and a lax check would hide a bare tail.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

class Window {
  private readonly hits: number[] = [];
  private readonly limits: readonly (readonly [number, number])[];
  constructor(limits: readonly (readonly [number, number])[]) {
    this.limits = limits;
  }
  /** Seconds to wait, or 0 after recording the hit. */
  take(now: number): number {
    let wait = 0;
    for (const [count, span] of this.limits) {
      const inSpan = this.hits.filter((t) => t > now - span);
      if (inSpan.length >= count) {
        const oldest = inSpan[inSpan.length - count] ?? now;
        wait = Math.max(wait, Math.ceil((oldest + span - now) / 1000));
      }
    }
    if (wait > 0) return wait;
    this.hits.push(now);
    return 0;
  }
}

export class AcsSimulator {
  readonly accessKey: string;
  readonly sent: SentEmail[] = [];
  readonly operations = new Map<string, Operation>();
  /** Every request: method, path, status, for assertions about what was (not) called. */
  readonly requests: { method: string; path: string; status: number; operationId?: string }[] = [];
  /** Repeated POSTs with a known Operation-Id (answered from the stored operation, not re-sent). */
  repeatedOperationIds = 0;
  private readonly opts: Required<
    Omit<AcsSimulatorOptions, 'entra' | 'tenantId' | 'roleHolders' | 'accessKey'>
  > &
    Pick<AcsSimulatorOptions, 'entra' | 'tenantId' | 'roleHolders'>;
  private readonly sendWindow: Window;
  private readonly statusWindow: Window;
  private readonly faults: { kind: 'send' | 'status'; fault: AcsFault | 'hang'; skip: number }[] = [];
  private server: HttpsHandle | undefined;
  private endpointUrl = '';

  constructor(options: AcsSimulatorOptions) {
    this.accessKey = options.accessKey ?? randomBytes(32).toString('base64');
    this.opts = {
      senders: options.senders,
      maxRequestBytes: options.maxRequestBytes ?? 10 * 1024 * 1024,
      maxRecipients: options.maxRecipients ?? 50,
      sendPerMinute: options.sendPerMinute ?? 30,
      sendPerHour: options.sendPerHour ?? 100,
      statusPerMinute: options.statusPerMinute ?? 60,
      statusPerHour: options.statusPerHour ?? 200,
      maxDateSkewMs: options.maxDateSkewMs ?? 15 * 60_000,
      runningPolls: options.runningPolls ?? 1,
      pollRetryAfterSeconds: options.pollRetryAfterSeconds ?? 0,
      outcome: options.outcome ?? (() => ({ status: 'Succeeded' })),
      now: options.now ?? Date.now,
      ...(options.entra === undefined ? {} : { entra: options.entra }),
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.roleHolders === undefined ? {} : { roleHolders: options.roleHolders }),
    };
    this.sendWindow = new Window([
      [this.opts.sendPerMinute, 60_000],
      [this.opts.sendPerHour, 3_600_000],
    ]);
    this.statusWindow = new Window([
      [this.opts.statusPerMinute, 60_000],
      [this.opts.statusPerHour, 3_600_000],
    ]);
  }

  get endpoint(): string {
    return this.endpointUrl;
  }

  get connectionString(): string {
    return `endpoint=${this.endpointUrl}/;accessKey=${this.accessKey}`;
  }

  /**
   * A coming send or status request (the next one, or the one after `skip` others of its kind) gets
   * this error, or is processed but never answered ('hang').
   */
  inject(kind: 'send' | 'status', fault: AcsFault | 'hang', skip = 0): void {
    this.faults.push({ kind, fault, skip });
  }

  async start(): Promise<string> {
    this.server = await startHttps((req, res) =>
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'InternalError', String(err));
      }),
    );
    this.endpointUrl = this.server.url;
    return this.endpointUrl;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private log(req: IncomingMessage, status: number, operationId?: string): void {
    const path = (req.url ?? '').split('?')[0] ?? '';
    this.requests.push({ method: req.method ?? '', path, status, ...(operationId ? { operationId } : {}) });
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-error-code': code, ...headers });
    res.end(JSON.stringify({ error: { code, message } }));
  }

  private takeFault(kind: 'send' | 'status'): AcsFault | 'hang' | undefined {
    const i = this.faults.findIndex((f) => f.kind === kind);
    const f = this.faults[i];
    if (f === undefined) return undefined;
    if (f.skip > 0) {
      f.skip--;
      return undefined;
    }
    return this.faults.splice(i, 1)[0]!.fault;
  }

  /** Verifies the documented HMAC scheme; returns why not, or undefined when it holds. */
  private verifyHmac(req: IncomingMessage, body: Buffer): string | undefined {
    const date = req.headers['x-ms-date'];
    const hash = req.headers['x-ms-content-sha256'];
    const authz = req.headers.authorization ?? '';
    const host = req.headers.host;
    if (typeof date !== 'string' || typeof hash !== 'string' || host === undefined) {
      return 'x-ms-date, x-ms-content-sha256 and host are required';
    }
    const m = /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=(.+)$/.exec(authz);
    if (!m) return 'malformed HMAC-SHA256 Authorization header';
    if (createHash('sha256').update(body).digest('base64') !== hash) return 'content hash mismatch';
    const at = Date.parse(date);
    if (Number.isNaN(at) || new Date(at).toUTCString() !== date) return 'x-ms-date is not an RFC 1123 date';
    if (Math.abs(this.opts.now() - at) > this.opts.maxDateSkewMs)
      return 'request date is outside the allowed skew';
    const toSign = `${req.method}\n${req.url}\n${date};${host};${hash}`;
    const expected = createHmac('sha256', Buffer.from(this.accessKey, 'base64'))
      .update(toSign, 'utf8')
      .digest();
    const given = Buffer.from(m[1]!, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
    return undefined;
  }

  private authenticate(req: IncomingMessage, body: Buffer): 'hmac' | 'bearer' | 'forbidden' | string {
    const authz = req.headers.authorization ?? '';
    if (authz.startsWith('Bearer ')) {
      if (this.opts.entra === undefined) return 'bearer auth is not enabled on this resource';
      const v = this.opts.entra.verify(authz, ACS_RESOURCE, this.opts.tenantId);
      if (!v.ok) return `bearer token rejected: ${v.message}`;
      if (this.opts.roleHolders !== undefined && !this.opts.roleHolders.has(v.claims.appid))
        return 'forbidden';
      return 'bearer';
    }
    return this.verifyHmac(req, body) ?? 'hmac';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      // Keep reading to answer politely, but store no more than needed to verify the hash.
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks, size);
    const url = new URL(req.url ?? '/', 'http://sim');
    const apiVersion = url.searchParams.get('api-version') ?? '';
    const auth = this.authenticate(req, body);
    if (auth === 'forbidden') {
      this.log(req, 403);
      return this.error(
        res,
        403,
        'AuthorizationFailed',
        'The client does not have authorization to perform action over this Communication resource.',
      );
    }
    if (auth !== 'hmac' && auth !== 'bearer') {
      this.log(req, 401);
      return this.error(res, 401, 'Denied', `Denied by the resource provider: ${auth}`);
    }
    if (!API_VERSIONS.has(apiVersion)) {
      this.log(req, 400);
      return this.error(res, 400, 'UnsupportedApiVersion', `api-version "${apiVersion}" is not supported`);
    }
    if (req.method === 'POST' && url.pathname === '/emails:send')
      return this.send(req, res, body, apiVersion, auth);
    const op = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && op) return this.status(req, res, decodeURIComponent(op[1]!), apiVersion);
    this.log(req, 404);
    return this.error(res, 404, 'NotFound', 'no such resource');
  }

  private validate(m: AcsMessageJson, apiVersion: string): [string, string] | undefined {
    if (typeof m !== 'object' || m === null) return ['BadRequest', 'body must be an EmailMessage'];
    if (typeof m.senderAddress !== 'string' || m.senderAddress === '')
      return ['BadRequest', 'senderAddress is required'];
    if (typeof m.content?.subject !== 'string') return ['BadRequest', 'content.subject is required'];
    if (m.content.plainText === undefined && m.content.html === undefined) {
      return ['BadRequest', 'content needs plainText or html'];
    }
    if (!Array.isArray(m.recipients?.to)) return ['BadRequest', 'recipients.to is required'];
    const all = [...m.recipients.to, ...(m.recipients.cc ?? []), ...(m.recipients.bcc ?? [])];
    if (all.length === 0) return ['BadRequest', 'at least one recipient is required'];
    if (all.length > this.opts.maxRecipients) {
      return ['BadRequest', `the number of recipients (${all.length}) exceeds ${this.opts.maxRecipients}`];
    }
    for (const a of [...all, ...(m.replyTo ?? [])]) {
      if (typeof a?.address !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(a.address)) {
        return ['InvalidEmailAddress', `invalid address ${JSON.stringify(a?.address)}`];
      }
    }
    const cids = new Set<string>();
    for (const att of m.attachments ?? []) {
      if (typeof att.name !== 'string' || att.name === '' || typeof att.contentType !== 'string') {
        return ['InvalidAttachment', 'attachments need name and contentType'];
      }
      if (typeof att.contentInBase64 !== 'string' || !BASE64.test(att.contentInBase64)) {
        return ['InvalidAttachment', `attachment ${att.name} is not base64`];
      }
      if (att.contentId !== undefined) {
        if (apiVersion === '2023-03-31')
          return ['BadRequest', 'contentId is not part of api-version 2023-03-31'];
        if (cids.has(att.contentId) && m.headers?.['x-ms-acsemail-ignore-duplicate-content-id'] !== 'true') {
          return ['BadRequest', `duplicate contentId ${att.contentId}`];
        }
        cids.add(att.contentId);
      }
    }
    for (const [k, v] of Object.entries(m.headers ?? {})) {
      if (typeof v !== 'string' || v === '') return ['BadRequest', `header ${k} has an empty value`];
    }
    return undefined;
  }

  private send(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    apiVersion: string,
    auth: 'hmac' | 'bearer',
  ) {
    const fault = this.takeFault('send');
    const opHeader = req.headers['operation-id'];
    const operationId = typeof opHeader === 'string' ? opHeader : randomUUID();
    if (fault !== undefined && fault !== 'hang') {
      this.log(req, fault.status, operationId);
      const extra: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return this.error(res, fault.status, fault.code, fault.message ?? fault.code, extra);
    }
    const wait = this.sendWindow.take(this.opts.now());
    if (wait > 0) {
      this.log(req, 429, operationId);
      return this.error(res, 429, 'TooManyRequests', 'send rate limit exceeded', {
        'retry-after': String(wait),
      });
    }
    if (body.length > this.opts.maxRequestBytes) {
      this.log(req, 413, operationId);
      return this.error(res, 413, 'RequestEntityTooLarge', `request is ${body.length} bytes; limit 10 MB`);
    }
    if (!UUID.test(operationId)) {
      this.log(req, 400, operationId);
      return this.error(res, 400, 'InvalidOperationId', 'Operation-Id must be a UUID');
    }
    const existing = this.operations.get(operationId);
    if (existing !== undefined) {
      // The caller's Operation-Id names the operation: a repeat is the same send, never a second one.
      this.repeatedOperationIds++;
      return this.accepted(req, res, existing, apiVersion);
    }
    let message: AcsMessageJson;
    try {
      message = JSON.parse(body.toString('utf8')) as AcsMessageJson;
    } catch {
      this.log(req, 400, operationId);
      return this.error(res, 400, 'BadRequest', 'body is not JSON');
    }
    const invalid = this.validate(message, apiVersion);
    if (invalid !== undefined) {
      this.log(req, 400, operationId);
      return this.error(res, 400, invalid[0], invalid[1]);
    }
    const sender = message.senderAddress.toLowerCase();
    if (!this.opts.senders.some((s) => s.toLowerCase() === sender)) {
      const domain = sender.split('@')[1];
      const linked = this.opts.senders.some((s) => s.toLowerCase().split('@')[1] === domain);
      this.log(req, 400, operationId);
      return linked
        ? this.error(
            res,
            400,
            'InvalidSenderUserName',
            `sender username of ${message.senderAddress} is not provisioned`,
          )
        : this.error(res, 400, 'DomainNotLinked', 'The specified sender domain has not been linked.');
    }
    const op: Operation = { id: operationId, status: 'Running', polls: 0, final: this.opts.outcome(message) };
    this.operations.set(operationId, op);
    this.sent.push({ operationId, apiVersion, message, bytes: body.length, auth });
    if (fault === 'hang') {
      this.log(req, 0, operationId);
      return; // processed, but the answer never comes: the client times out
    }
    return this.accepted(req, res, op, apiVersion);
  }

  private accepted(req: IncomingMessage, res: ServerResponse, op: Operation, apiVersion: string) {
    this.log(req, 202, op.id);
    res.writeHead(202, {
      'content-type': 'application/json',
      'operation-location': `${this.endpointUrl}/emails/operations/${op.id}?api-version=${apiVersion}`,
      'retry-after': String(this.opts.pollRetryAfterSeconds),
    });
    res.end(JSON.stringify({ id: op.id, status: op.status }));
  }

  private status(req: IncomingMessage, res: ServerResponse, id: string, _apiVersion: string) {
    const fault = this.takeFault('status');
    if (fault === 'hang') return;
    if (fault !== undefined) {
      this.log(req, fault.status, id);
      const extra: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return this.error(res, fault.status, fault.code, fault.message ?? fault.code, extra);
    }
    const wait = this.statusWindow.take(this.opts.now());
    if (wait > 0) {
      this.log(req, 429, id);
      return this.error(res, 429, 'TooManyRequests', 'status rate limit exceeded', {
        'retry-after': String(wait),
      });
    }
    const op = this.operations.get(id);
    if (op === undefined) {
      this.log(req, 404, id);
      return this.error(res, 404, 'NotFound', `operation ${id} not found`);
    }
    if (op.status === 'Running' || op.status === 'NotStarted') {
      op.polls++;
      if (op.polls >= this.opts.runningPolls) {
        op.status = op.final.status;
        if (op.final.status === 'Failed') op.error = op.final.error;
      }
    }
    this.log(req, 200, id);
    const terminal = op.status === 'Succeeded' || op.status === 'Failed' || op.status === 'Canceled';
    res.writeHead(200, {
      'content-type': 'application/json',
      ...(terminal ? {} : { 'retry-after': String(this.opts.pollRetryAfterSeconds) }),
    });
    res.end(JSON.stringify({ id: op.id, status: op.status, ...(op.error ? { error: op.error } : {}) }));
  }
}
