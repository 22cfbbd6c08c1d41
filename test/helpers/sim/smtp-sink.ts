// A real smarthost for transport tests: smtp-server on 127.0.0.1:0 with STARTTLS or implicit TLS
// from the test PKI, AUTH PLAIN/LOGIN against a user table, XOAUTH2 against a token table, an
// optional client-certificate requirement checked in onSecure (as an Exchange certificate connector
// would), and scripted replies per recipient and after DATA. Stores each accepted transaction.
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

export interface SinkMessage {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly raw: Buffer;
  readonly user?: string;
  readonly secure: boolean;
  /** CN of the verified client certificate, if one was presented and trusted. */
  readonly clientCn?: string;
}

export interface SmtpReplyError {
  readonly code: number;
  readonly text: string;
}

export interface SmtpSinkOptions {
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly key?: string;
  readonly cert?: string;
  /** CA that client certificates must chain to; with requireClientCert, others are refused. */
  readonly clientCa?: string;
  readonly requireClientCert?: boolean;
  readonly users?: Readonly<Record<string, string>>;
  /** user → accepted XOAUTH2 bearer token. */
  readonly tokens?: Readonly<Record<string, string>>;
  readonly onRcpt?: (rcpt: string) => SmtpReplyError | undefined;
  readonly onMailFrom?: (from: string) => SmtpReplyError | undefined;
  readonly onDataEnd?: (raw: Buffer) => SmtpReplyError | undefined;
  /** Awaited after the final dot and before the reply: a test holds a delivery in flight with it. */
  readonly beforeReply?: (raw: Buffer) => Promise<void>;
  readonly size?: number;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
}

function replyError(e: SmtpReplyError): Error {
  return Object.assign(new Error(e.text), { responseCode: e.code });
}

export class SmtpSink {
  readonly messages: SinkMessage[] = [];
  readonly authAttempts: { method: string; user: string; ok: boolean }[] = [];
  readonly errors: Error[] = [];
  transactions = 0;
  private server: SMTPServer | undefined;
  private readonly opts: SmtpSinkOptions;
  port = 0;

  constructor(opts: SmtpSinkOptions) {
    this.opts = opts;
  }

  async start(): Promise<number> {
    const o = this.opts;
    const needAuth = o.users !== undefined || o.tokens !== undefined;
    const certs = new WeakMap<SMTPServerSession, string>();
    const options: SMTPServerOptions = {
      logger: false,
      secure: o.tls === 'implicit',
      ...(o.tls === 'none' ? { disabledCommands: ['STARTTLS'] } : {}),
      ...(o.key === undefined ? {} : { key: o.key, cert: o.cert }),
      minVersion: 'TLSv1.2',
      ...(o.clientCa === undefined ? {} : { ca: o.clientCa, requestCert: true, rejectUnauthorized: false }),
      authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
      authOptional: !needAuth,
      allowInsecureAuth: false,
      ...(o.size === undefined ? {} : { size: o.size, rejectOversized: true }),
      onSecure: (socket, session, cb) => {
        if (o.clientCa !== undefined) {
          const tls = socket as TLSSocket;
          const pc = tls.getPeerCertificate();
          if (tls.authorized && pc?.subject?.CN) certs.set(session, String(pc.subject.CN));
          else if (o.requireClientCert) {
            return cb(Object.assign(new Error('5.7.1 client certificate required'), { responseCode: 530 }));
          }
        }
        cb();
      },
      onAuth: (auth, _session, cb) => {
        const user = auth.username ?? '';
        const ok =
          auth.method === 'XOAUTH2'
            ? o.tokens?.[user] !== undefined && o.tokens[user] === auth.accessToken
            : o.users?.[user] !== undefined && o.users[user] === auth.password;
        this.authAttempts.push({ method: auth.method, user, ok });
        if (!ok) {
          return cb(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
        }
        cb(null, { user });
      },
      onMailFrom: (address, session, cb) => {
        if (o.requireClientCert && !certs.has(session)) {
          return cb(Object.assign(new Error('5.7.1 client certificate required'), { responseCode: 530 }));
        }
        const e = o.onMailFrom?.(address.address);
        cb(e === undefined ? undefined : replyError(e));
      },
      onRcptTo: (address, _session, cb) => {
        const e = o.onRcpt?.(address.address);
        cb(e === undefined ? undefined : replyError(e));
      },
      onData: (stream, session, cb) => {
        const parts: Buffer[] = [];
        stream.on('data', (c: Buffer) => parts.push(c));
        stream.on('end', () => {
          this.transactions++;
          const raw = Buffer.concat(parts);
          if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
            return cb(
              Object.assign(new Error('5.3.4 message exceeds fixed maximum message size'), {
                responseCode: 552,
              }),
            );
          }
          const e = o.onDataEnd?.(raw);
          if (e !== undefined) return cb(replyError(e));
          if (o.beforeReply !== undefined) {
            o.beforeReply(raw).then(
              () => this.accept(session, raw, certs.get(session), cb),
              (err: unknown) => cb(err as Error),
            );
            return;
          }
          this.accept(session, raw, certs.get(session), cb);
        });
      },
    };
    const server = new SMTPServer(options);
    // Without an error listener one bad client (refused certificate) would crash the test process.
    server.on('error', (err: Error) => this.errors.push(err));
    await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', () => resolve()));
    this.server = server;
    this.port = (
      (server as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo
    ).port;
    return this.port;
  }

  private accept(
    session: SMTPServerSession,
    raw: Buffer,
    cn: string | undefined,
    cb: (err?: Error | null, message?: string) => void,
  ): void {
    const user = typeof session.user === 'string' ? session.user : undefined;
    this.messages.push({
      mailFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      raw,
      ...(user === undefined ? {} : { user }),
      secure: session.secure,
      ...(cn === undefined ? {} : { clientCn: cn }),
    });
    cb(null, `2.0.0 OK queued as Q${this.messages.length}`);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
