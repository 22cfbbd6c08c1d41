// The receiving room: SMTP listeners on smtp-server. It decides who may send (identity by network or
// AUTH), streams DATA into the spool and answers 250 only after Spool.commit has fsynced the entry.
// It hands committed entries to a callback (the engine) and touches nothing else of delivery.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import {
  SMTPServer,
  type SMTPServerDataStream,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';
import type { Config, IdentityConfig, ListenerConfig } from '../config/schema.ts';
import { isRelayError, RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../ops/metrics.ts';
import { type CompiledRules, rejectAtRcpt, rejectionError, routeMessage } from '../routing/router.ts';
import { newEntryId } from '../spool/entry-name.ts';
import type { Delivery, SpoolHeader } from '../spool/record.ts';
import type { Spool, SpoolEntry, SpoolWriter } from '../spool/spool.ts';
import { AccessMap, normalizeIp } from './access.ts';
import { HeaderBlock, headerValue } from './header-block.ts';
import { receivedHeader } from './trace-header.ts';

export interface ReceiverDeps {
  readonly config: Config;
  readonly spool: Spool;
  readonly rules: CompiledRules;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Called once per committed entry, after the 250 is decided. */
  readonly onAccepted: (entry: SpoolEntry) => void;
  readonly now?: () => number;
}

/** What the receiver knows about one SMTP session beyond smtp-server's own session. */
interface SessionState {
  identity?: IdentityConfig;
  authUser?: string;
  readonly ip: string;
}

/** Largest header block kept for routing and operator views. */
const HEADER_BLOCK_LIMIT = 256 * 1024;

export interface BoundListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export class Receiver {
  private readonly deps: ReceiverDeps;
  private readonly access: AccessMap;
  private readonly servers: { listener: ListenerConfig; server: SMTPServer }[] = [];
  private readonly sessions = new Map<string, SessionState>();
  private readonly now: () => number;
  private listening = false;
  private closing = false;

  constructor(deps: ReceiverDeps) {
    this.deps = deps;
    this.access = new AccessMap(deps.config);
    this.now = deps.now ?? Date.now;
  }

  get up(): boolean {
    return this.listening && !this.closing;
  }

  async listen(): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const listener of this.deps.config.listeners) {
      const server = new SMTPServer(this.options(listener));
      // Without an error listener a single client (RST mid-DATA, TLS garbage) crashes the process.
      server.on('error', (err: Error & { remote?: string }) => {
        this.deps.logger.debug(
          {
            listener: listener.name,
            err: err.message,
            code: (err as NodeJS.ErrnoException).code,
            remote: err.remote,
          },
          'smtp: connection error',
        );
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.server.once('error', onError);
        server.listen(listener.port, listener.address, () => {
          server.server.off('error', onError);
          resolve();
        });
      });
      const addr = server.server.address() as AddressInfo;
      this.servers.push({ listener, server });
      bound.push({ name: listener.name, address: addr.address, port: addr.port });
    }
    this.listening = true;
    return bound;
  }

  /** Stops accepting connections; sessions in progress get `graceMs` to finish. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.servers.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, graceMs + 1000);
            server.close(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    this.listening = false;
  }

  private options(l: ListenerConfig): SMTPServerOptions {
    const tlsOn = l.tls.mode !== 'none';
    // AUTH is offered only where it is safe: with TLS available, or where the operator explicitly
    // allowed cleartext on a trusted network.
    const authUsable = l.auth && (tlsOn || l.allowCleartextAuth);
    const disabled: string[] = [];
    if (!tlsOn) disabled.push('STARTTLS');
    if (!authUsable) disabled.push('AUTH');
    return {
      name: this.deps.config.appliance.hostname,
      banner: 'relaykit ESMTP',
      logger: false,
      disableReverseLookup: true,
      secure: l.tls.mode === 'implicit',
      ...(tlsOn
        ? {
            key: readFileSync(l.tls.key as string),
            cert: readFileSync(l.tls.cert as string),
            minVersion: l.tls.minVersion,
          }
        : {}),
      size: l.maxMessageSize,
      maxClients: l.maxClients,
      maxRecipients: l.maxRecipients,
      socketTimeout: l.socketTimeout,
      closeTimeout: this.deps.config.delivery.drainTimeout,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      allowInsecureAuth: l.allowCleartextAuth,
      disabledCommands: disabled,
      onConnect: (session, cb) => this.onConnect(l, session, cb),
      onAuth: (auth, session, cb) => {
        this.onAuth(l, auth.method, auth.username ?? '', auth.password ?? '', session).then(
          (user) => cb(null, { user }),
          (err: unknown) => cb(this.reject(l, session, err)),
        );
      },
      onMailFrom: (address, session, cb) => cb(this.onMailFrom(l, address.address, session)),
      onRcptTo: (address, session, cb) => cb(this.onRcptTo(l, address.address, session)),
      onData: (stream, session, cb) => {
        this.onData(l, stream, session).then(
          (id) => cb(null, `2.0.0 Ok: queued as ${id}`),
          (err: unknown) => cb(this.reject(l, session, err)),
        );
      },
      onClose: (session) => {
        this.sessions.delete(session.id);
      },
    };
  }

  private state(session: SMTPServerSession): SessionState {
    let s = this.sessions.get(session.id);
    if (!s) {
      s = { ip: normalizeIp(session.remoteAddress) };
      this.sessions.set(session.id, s);
    }
    return s;
  }

  /** Counts and logs a refusal, and returns the error for smtp-server to send. */
  private reject(l: ListenerConfig, session: SMTPServerSession, err: unknown): Error {
    const relay = isRelayError(err) ? err : new RelayError('RELAY_SPOOL_WRITE', undefined, { cause: err });
    const s = this.sessions.get(session.id);
    this.deps.metrics.inc('relaykit_rejected_total', { reason: relay.code });
    const fields = {
      listener: l.name,
      ip: s?.ip ?? session.remoteAddress,
      identity: s?.identity?.name,
      code: relay.code,
      reply: relay.responseCode,
      reason: relay.message,
    };
    if (relay.code === 'RELAY_SPOOL_WRITE')
      this.deps.logger.error({ ...fields, err: relay.cause }, 'smtp: spool write failed');
    else this.deps.logger.info(fields, 'smtp: rejected');
    return relay;
  }

  private onConnect(l: ListenerConfig, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.closing) {
      cb(this.reject(l, session, new RelayError('RELAY_SHUTTING_DOWN')));
      return;
    }
    const s = this.state(session);
    const identity = this.access.byAddress(s.ip);
    if (identity) {
      s.identity = identity;
      cb();
      return;
    }
    // Unknown address: only a listener that can authenticate may let it in, to log in.
    const authUsable = l.auth && (l.tls.mode !== 'none' || l.allowCleartextAuth) && this.access.hasUsers;
    cb(
      authUsable
        ? null
        : this.reject(l, session, new RelayError('RELAY_ACCESS_DENIED', `Access denied for [${s.ip}]`)),
    );
  }

  private async onAuth(
    l: ListenerConfig,
    method: string,
    username: string,
    password: string,
    session: SMTPServerSession,
  ): Promise<string> {
    if (!session.secure && !l.allowCleartextAuth) {
      throw new RelayError('RELAY_TLS_REQUIRED', 'Must issue a STARTTLS command first');
    }
    if (method !== 'PLAIN' && method !== 'LOGIN') {
      throw new RelayError('RELAY_AUTH_FAILED', 'Authentication mechanism not supported', {
        responseCode: 504,
      });
    }
    const identity = await this.access.byLogin(username, password);
    if (!identity) throw new RelayError('RELAY_AUTH_FAILED', 'Authentication credentials invalid');
    const s = this.state(session);
    s.identity = identity;
    s.authUser = username;
    this.deps.logger.info(
      { listener: l.name, ip: s.ip, identity: identity.name, user: username },
      'smtp: authenticated',
    );
    return username;
  }

  private onMailFrom(l: ListenerConfig, _from: string, session: SMTPServerSession): Error | null {
    if (this.closing) return this.reject(l, session, new RelayError('RELAY_SHUTTING_DOWN'));
    const s = this.state(session);
    if (!s.identity) {
      const canAuth = l.auth && (l.tls.mode !== 'none' || l.allowCleartextAuth);
      return this.reject(
        l,
        session,
        canAuth
          ? new RelayError('RELAY_AUTH_REQUIRED', 'Authentication required')
          : new RelayError('RELAY_ACCESS_DENIED'),
      );
    }
    return null;
  }

  private onRcptTo(l: ListenerConfig, to: string, session: SMTPServerSession): Error | null {
    const s = this.state(session);
    if (!s.identity)
      return this.reject(l, session, new RelayError('RELAY_AUTH_REQUIRED', 'Authentication required'));
    const rejection = rejectAtRcpt(this.deps.rules, {
      identity: s.identity.name,
      sourceIp: s.ip,
      ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      recipient: to,
    });
    if (rejection) {
      return this.reject(l, session, rejectionError(rejection));
    }
    return null;
  }

  private async onData(
    l: ListenerConfig,
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
  ): Promise<string> {
    const s = this.state(session);
    const identity = s.identity;
    if (!identity) {
      stream.resume();
      throw new RelayError('RELAY_AUTH_REQUIRED');
    }
    const id = newEntryId(this.now());
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const rcptTo = session.envelope.rcptTo.map((r) => r.address);
    const tlsInfo = session.tlsOptions || undefined;
    let writer: SpoolWriter | undefined;
    let failure: unknown;
    try {
      writer = await this.deps.spool.begin(id);
      await writer.write(
        Buffer.from(
          receivedHeader({
            heloName: session.hostNameAppearsAs,
            sourceIp: s.ip,
            hostname: this.deps.config.appliance.hostname,
            id,
            esmtp: session.openingCommand !== 'HELO',
            tls: session.secure,
            authenticated: s.authUser !== undefined,
            ...(tlsInfo ? { tlsProtocol: tlsInfo.version, tlsCipher: tlsInfo.name } : {}),
            ...(rcptTo.length === 1 ? { recipient: rcptTo[0] as string } : {}),
            date: new Date(this.now()),
          }),
          'latin1',
        ),
      );
    } catch (err) {
      failure = err;
    }
    const headers = new HeaderBlock(HEADER_BLOCK_LIMIT);
    let streamError: Error | undefined;
    stream.once('error', (err) => {
      streamError = err;
    });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (failure !== undefined || writer === undefined) continue; // keep draining to the final dot
        headers.push(chunk);
        if (stream.sizeExceeded) continue;
        try {
          await writer.write(chunk);
        } catch (err) {
          failure = err;
          await writer.abort();
        }
      }
    } catch (err) {
      streamError ??= err as Error;
    }
    if (streamError !== undefined || !stream.readableEnded) {
      // The client went away mid-DATA: nothing was acknowledged, so nothing may remain.
      await writer?.abort();
      throw new RelayError('RELAY_SPOOL_WRITE', 'connection lost during DATA', { cause: streamError });
    }
    if (failure !== undefined || writer === undefined) {
      await writer?.abort();
      throw new RelayError('RELAY_SPOOL_WRITE', 'Insufficient system storage; try again later', {
        cause: failure,
      });
    }
    if (stream.sizeExceeded) {
      await writer.abort();
      throw new RelayError(
        'RELAY_MESSAGE_TOO_LARGE',
        `Message exceeds fixed maximum message size ${l.maxMessageSize}`,
      );
    }

    const fields = headers.fields();
    const receivedAt = this.now();
    const decision = routeMessage(this.deps.rules, {
      identity: identity.name,
      sourceIp: s.ip,
      ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
      mailFrom,
      recipients: rcptTo,
      size: writer.bytes,
      headers: fields,
    });
    const routed = decision.legs.reduce((n, leg) => n + leg.recipients.length, 0);
    if (routed === 0) {
      await writer.abort();
      const r = decision.rejections[0];
      throw r ? rejectionError(r) : new RelayError('RELAY_RULE_REJECTED');
    }
    const deliveries: Delivery[] = [
      ...decision.legs.map(
        (leg): Delivery => ({
          route: leg.route,
          recipients: leg.recipients,
          rule: leg.rule,
          ...(leg.sendAs === undefined ? {} : { sendAs: leg.sendAs }),
          ...(leg.mailFrom === undefined ? {} : { mailFrom: leg.mailFrom }),
          status: 'pending',
          attempts: [],
          nextAttemptAt: receivedAt,
        }),
      ),
      // Recipients a rule refused after DATA, while others were accepted: kept visible in the
      // dead-letter folder rather than dropped.
      ...decision.rejections.map(
        (r): Delivery => ({
          route: '(rejected)',
          recipients: r.recipients,
          rule: r.rule,
          status: 'dead',
          attempts: [],
          nextAttemptAt: receivedAt,
          deadReason: `RELAY_RULE_REJECTED: ${r.responseCode} ${r.enhanced} ${r.message}`,
        }),
      ),
    ];
    const messageId = headerValue(fields, 'message-id');
    const subject = headerValue(fields, 'subject');
    const header: SpoolHeader = {
      version: 1,
      id,
      receivedAt,
      envelope: { mailFrom, rcptTo },
      identity: identity.name,
      ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
      sourceIp: s.ip,
      listener: l.name,
      ...(session.hostNameAppearsAs ? { heloName: String(session.hostNameAppearsAs).slice(0, 255) } : {}),
      ...(tlsInfo ? { tls: { protocol: tlsInfo.version, cipher: tlsInfo.name } } : {}),
      ...(messageId === undefined ? {} : { messageId: messageId.slice(0, 998) }),
      ...(subject === undefined ? {} : { subject: subject.slice(0, 998) }),
      deliveries,
    };
    const entry = await writer.commit(header);
    this.deps.metrics.inc('relaykit_accepted_total', { listener: l.name });
    this.deps.spool.trace({
      id,
      event: 'received',
      identity: identity.name,
      ip: s.ip,
      from: mailFrom,
      rcpt: rcptTo.length,
      size: entry.message.length,
      messageId,
      routes: decision.legs.map((leg) => leg.route),
    });
    this.deps.onAccepted(entry);
    return id;
  }

  /** For the health endpoint and tests. */
  addresses(): BoundListener[] {
    return this.servers.map(({ listener, server }) => {
      const a = server.server.address() as AddressInfo | null;
      return { name: listener.name, address: a?.address ?? listener.address, port: a?.port ?? listener.port };
    });
  }
}
