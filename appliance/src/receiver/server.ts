// The receiving room: SMTP listeners on smtp-server. It decides who may send (identity by network,
// verified client certificate or AUTH), applies the identity's policy (policy.ts) and the listener's
// abuse controls (abuse.ts, guarded-server.ts), streams DATA through the content pass (content.ts)
// into the spool and answers 250 only after Spool.commit has fsynced the entry. It hands committed
// entries to a callback (the engine) and touches nothing else of delivery. This file is the glue.
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type {
  SMTPServer,
  SMTPServerAddress,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import { isLegacyTls } from '../config/listener.ts';
import type { Config, IdentityConfig, ListenerConfig } from '../config/schema.ts';
import { isRelayError, RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import { type CompiledRules, rejectAtRcpt, rejectionError, routeMessage } from '../routing/router.ts';
import { newEntryId } from '../spool/entry-name.ts';
import type { SpoolHeader } from '../spool/record.ts';
import type { Spool, SpoolEntry, SpoolWriter } from '../spool/spool.ts';
import { AuthFailureTracker, delay, RateLimiter } from './abuse.ts';
import { AccessMap, normalizeIp } from './access.ts';
import { CarryCheck } from './carry-check.ts';
import { ContentNormalizer } from './content.ts';
import { type GuardCode, GuardedSmtpServer } from './guarded-server.ts';
import { HeaderBlock, headerValue } from './header-block.ts';
import { planDeliveries } from './plan.ts';
import { type Decision, decide, effectivePolicy, type IdentityPolicy } from './policy.ts';
import { effectiveCiphers, TlsReloader, tlsOptions } from './tls.ts';
import { receivedHeader, rfc5322Date } from './trace-header.ts';

export interface ReceiverDeps {
  readonly config: Config;
  readonly spool: Spool;
  readonly rules: CompiledRules;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Called once per committed entry, after the 250 is decided. */
  readonly onAccepted: (entry: SpoolEntry) => void;
  readonly now?: () => number;
}

/** What the receiver knows about one SMTP session beyond smtp-server's own session. */
interface SessionState {
  identity?: IdentityConfig;
  /** How the identity was established. */
  via?: 'network' | 'certificate' | 'auth';
  authUser?: string;
  /** Verified client certificate, when one identified the session. */
  cert?: { subject?: string; fingerprint?: string };
  /** Negotiated TLS version (getProtocol); smtp-server's tlsOptions.version is the cipher's minimum. */
  tlsProtocol?: string;
  /** Envelope sender of the current transaction after the identity's rewrite. */
  mailFrom?: string;
  readonly ip: string;
}

/** A policy decision that refuses, as the error smtp-server sends. */
function decisionError(d: Exclude<Decision, { kind: 'accept' }>): RelayError {
  return new RelayError(d.code, d.reason, { responseCode: d.responseCode, detail: { rule: d.rule } });
}

/** The listener key behind each connection guard, for the `rule` of its log line. */
const GUARD_KEYS: Record<GuardCode, string> = {
  RELAY_SESSION_TIMEOUT: 'sessionTimeout',
  RELAY_UNKNOWN_COMMANDS: 'maxUnknownCommands',
  RELAY_TLS_REQUIRED: 'tls',
  RELAY_PROTOCOL_ERROR: 'smtp',
};

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
  private readonly servers: { listener: ListenerConfig; server: SMTPServer; tls?: TlsReloader }[] = [];
  private readonly sessions = new Map<string, SessionState>();
  private readonly authFailures = new Map<string, AuthFailureTracker>();
  private readonly rate: RateLimiter;
  private readonly carry: CarryCheck;
  private readonly now: () => number;
  private readonly onSighup = () => this.reloadTls('SIGHUP');
  private listening = false;
  private closing = false;

  constructor(deps: ReceiverDeps) {
    this.deps = deps;
    this.access = new AccessMap(deps.config);
    this.now = deps.now ?? Date.now;
    this.rate = new RateLimiter(this.now);
    this.carry = new CarryCheck(deps.config.routes, deps.rules.fallbacks);
    for (const l of deps.config.listeners) {
      this.authFailures.set(
        l.name,
        new AuthFailureTracker(
          { limit: l.authFailures.limit, windowMs: l.authFailures.window, blockMs: l.authFailures.block },
          this.now,
        ),
      );
    }
  }

  /** Re-reads every listener's certificate, key and CA bundle; true when all reloaded. */
  reloadTls(why = 'request'): boolean {
    if (!this.servers.some((x) => x.tls)) {
      this.deps.logger.info({ why }, 'tls: no TLS listener to reload');
      return true;
    }
    let ok = true;
    for (const s of this.servers) if (s.tls && !s.tls.reload(why)) ok = false;
    return ok;
  }

  private tracker(l: ListenerConfig): AuthFailureTracker {
    return this.authFailures.get(l.name) as AuthFailureTracker;
  }

  get up(): boolean {
    return this.listening && !this.closing;
  }

  async listen(): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const listener of this.deps.config.listeners) {
      const server = new GuardedSmtpServer(this.options(listener), {
        sessionTimeoutMs: listener.sessionTimeout,
        maxUnknownCommands: listener.maxUnknownCommands,
        startTls: listener.tls.mode === 'starttls',
        onGuard: (code, sessionId, reply) => {
          this.deps.metrics.inc('relaykit_rejected_total', { reason: code });
          const st = this.sessions.get(sessionId);
          this.deps.logger.info(
            {
              listener: listener.name,
              ip: st?.ip,
              identity: st?.identity?.name,
              code,
              rule: `listeners.${listener.name}.${GUARD_KEYS[code]}`,
              ...(reply === undefined ? {} : { reply }),
            },
            'smtp: refused by connection guard',
          );
        },
      });
      if (listener.tls.mode !== 'none' && isLegacyTls(listener.tls.minVersion)) {
        this.deps.logger.warn(
          {
            listener: listener.name,
            minVersion: listener.tls.minVersion,
            ciphers: effectiveCiphers(listener.tls),
          },
          `listener ${listener.name} accepts legacy TLS (${listener.tls.minVersion}, OpenSSL security level 0) for old devices; keep it on an isolated network`,
        );
      }
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
      let reloader: TlsReloader | undefined;
      if (listener.tls.mode !== 'none') {
        reloader = new TlsReloader(listener, server, this.deps.logger);
        if (listener.tls.watch) reloader.watch();
      }
      this.servers.push({ listener, server, ...(reloader ? { tls: reloader } : {}) });
      bound.push({ name: listener.name, address: addr.address, port: addr.port });
    }
    // Always handled: an operator's `kill -HUP` must never terminate the appliance.
    process.on('SIGHUP', this.onSighup);
    this.listening = true;
    return bound;
  }

  /** Stops accepting connections; sessions in progress get `graceMs` to finish. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    process.off('SIGHUP', this.onSighup);
    for (const s of this.servers) s.tls?.close();
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

  /** Commands disabled on a listener whatever the session (STARTTLS without TLS, AUTH where unsafe). */
  private baseDisabled(l: ListenerConfig): string[] {
    const tlsOn = l.tls.mode !== 'none';
    const authUsable = l.auth && (tlsOn || l.allowCleartextAuth) && !l.tls.clientCertificates?.required;
    // Sendmail's joke commands (WIZ makes a "wizard", SHELL/KILL answer) are plain unknown commands here.
    const disabled: string[] = ['WIZ', 'SHELL', 'KILL'];
    if (!tlsOn) disabled.push('STARTTLS');
    if (!authUsable) disabled.push('AUTH');
    return disabled;
  }

  /** Whether a client on this listener could still become an identity by logging in. */
  private canAuth(l: ListenerConfig): boolean {
    return !this.baseDisabled(l).includes('AUTH');
  }

  private options(l: ListenerConfig): SMTPServerOptions {
    const tls = tlsOptions(l);
    return {
      name: this.deps.config.appliance.hostname,
      banner: 'relaykit ESMTP',
      logger: false,
      disableReverseLookup: true,
      secure: l.tls.mode === 'implicit',
      ...(tls ?? {}),
      size: l.maxMessageSize,
      maxClients: l.maxClients,
      // No maxRecipients here: policy.ts enforces min(identity, listener) with a logged 452 4.5.3.
      socketTimeout: l.socketTimeout,
      closeTimeout: this.deps.config.delivery.drainTimeout,
      authMethods: ['PLAIN', 'LOGIN'],
      // Every MAIL/RCPT is decided by identity below; smtp-server's own gate would also count
      // commands of certificate and network devices as "unauthenticated".
      authOptional: true,
      allowInsecureAuth: l.allowCleartextAuth,
      disabledCommands: this.baseDisabled(l),
      onConnect: (session, cb) => this.onConnect(l, session, cb),
      onSecure: (socket, session, cb) => cb(this.onSecure(l, socket as TLSSocket, session)),
      onAuth: (auth, session, cb) => {
        this.onAuth(l, auth.method, auth.username ?? '', auth.password ?? '', session).then(
          (user) => cb(null, { user }),
          (err: unknown) => cb(this.reject(l, session, err)),
        );
      },
      onMailFrom: (address, session, cb) => cb(this.onMailFrom(l, address, session)),
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

  /** Counts and logs a refusal (identity, source, rule, reason), and returns the error to send. */
  private reject(l: ListenerConfig, session: SMTPServerSession, err: unknown): Error {
    const relay = isRelayError(err) ? err : new RelayError('RELAY_SPOOL_WRITE', undefined, { cause: err });
    const s = this.sessions.get(session.id);
    this.deps.metrics.inc('relaykit_rejected_total', { reason: relay.code });
    const fields = {
      listener: l.name,
      ip: s?.ip ?? session.remoteAddress,
      identity: s?.identity?.name,
      via: s?.via,
      code: relay.code,
      rule: (relay.detail?.rule as string | undefined) ?? `listeners.${l.name}`,
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
    // AUTH is neither offered nor accepted before TLS (unless the listener allows cleartext AUTH):
    // smtp-server would advertise it in EHLO before STARTTLS.
    const base = this.baseDisabled(l);
    session.disabledCommands =
      !session.secure && !l.allowCleartextAuth && !base.includes('AUTH') ? [...base, 'AUTH'] : base;
    const identity = this.access.byAddress(s.ip);
    if (identity) {
      s.identity = identity;
      s.via = 'network';
      cb();
      return;
    }
    const blocked = this.tracker(l).blockedUntil(s.ip);
    if (blocked !== undefined) {
      cb(
        this.reject(
          l,
          session,
          new RelayError(
            'RELAY_AUTH_BLOCKED',
            `Too many failed logins from [${s.ip}]; try again in ${Math.ceil((blocked - this.now()) / 1000)} s`,
            { detail: { rule: `listeners.${l.name}.authFailures` } },
          ),
        ),
      );
      return;
    }
    // Unknown address: only a listener where it can still become an identity lets it in.
    const viaAuth = this.canAuth(l) && this.access.hasUsers;
    const viaCert = l.tls.clientCertificates !== undefined && this.access.hasCertificates;
    cb(
      viaAuth || viaCert
        ? null
        : this.reject(l, session, new RelayError('RELAY_ACCESS_DENIED', `Access denied for [${s.ip}]`)),
    );
  }

  /** After implicit TLS and STARTTLS: re-enable AUTH and map a verified client certificate. */
  private onSecure(l: ListenerConfig, socket: TLSSocket, session: SMTPServerSession): Error | null {
    session.disabledCommands = this.baseDisabled(l);
    const s = this.state(session);
    s.tlsProtocol = socket.getProtocol() ?? undefined;
    // RFC 3207 §4.2: nothing learnt before STARTTLS survives it (smtp-server clears session.user too);
    // only the network identity, which does not depend on the client's word, is re-established.
    if (s.via !== 'network') {
      const byNetwork = this.access.byAddress(s.ip);
      s.identity = byNetwork;
      s.via = byNetwork ? 'network' : undefined;
      s.authUser = undefined;
      s.cert = undefined;
    }
    s.mailFrom = undefined;
    const cc = l.tls.clientCertificates;
    if (!cc) return null;
    const rule = { rule: `listeners.${l.name}.tls.clientCertificates` };
    const pc = socket.getPeerCertificate();
    const presented = pc !== null && typeof pc === 'object' && Object.keys(pc).length > 0;
    if (!presented) {
      if (!cc.required) return null;
      return this.reject(
        l,
        session,
        new RelayError('RELAY_CERT_REJECTED', 'A client certificate is required on this listener', {
          detail: rule,
        }),
      );
    }
    const subject = typeof pc.subject?.CN === 'string' ? pc.subject.CN : undefined;
    if (!socket.authorized) {
      return this.reject(
        l,
        session,
        new RelayError(
          'RELAY_CERT_REJECTED',
          `Client certificate not trusted (${String(socket.authorizationError ?? 'unverified')})`,
          { detail: { ...rule, subject, issuer: pc.issuer?.CN } },
        ),
      );
    }
    const facts = {
      ...(subject === undefined ? {} : { subjectCN: subject }),
      ...(pc.subjectaltname ? { subjectAltName: pc.subjectaltname } : {}),
      ...(pc.fingerprint256 ? { fingerprint256: pc.fingerprint256 } : {}),
    };
    const identity = this.access.byCertificate(facts);
    if (!identity) {
      return this.reject(
        l,
        session,
        new RelayError('RELAY_CERT_REJECTED', 'Client certificate is valid but matches no identity', {
          detail: { ...rule, subject },
        }),
      );
    }
    s.identity = identity;
    s.via = 'certificate';
    s.cert = {
      ...(subject === undefined ? {} : { subject }),
      ...(pc.fingerprint256 ? { fingerprint: pc.fingerprint256 } : {}),
    };
    // smtp-server treats a session user as logged in: AUTH leaves EHLO and a later AUTH gets 503.
    session.user = `cert:${identity.name}`;
    this.deps.logger.info(
      { listener: l.name, ip: s.ip, identity: identity.name, subject, fingerprint: pc.fingerprint256 },
      'smtp: client certificate accepted',
    );
    return null;
  }

  private async onAuth(
    l: ListenerConfig,
    method: string,
    username: string,
    password: string,
    session: SMTPServerSession,
  ): Promise<string> {
    const s = this.state(session);
    const tracker = this.tracker(l);
    const blockedError = () =>
      new RelayError('RELAY_AUTH_BLOCKED', `Too many failed logins from [${s.ip}]; try again later`, {
        detail: { rule: `listeners.${l.name}.authFailures` },
      });
    if (tracker.blockedUntil(s.ip) !== undefined) throw blockedError();
    if (!session.secure && !l.allowCleartextAuth) {
      throw new RelayError('RELAY_TLS_REQUIRED', 'Must issue a STARTTLS command first');
    }
    if (method !== 'PLAIN' && method !== 'LOGIN') {
      throw new RelayError('RELAY_AUTH_FAILED', 'Authentication mechanism not supported', {
        responseCode: 504,
      });
    }
    const identity = await this.access.byLogin(username, password);
    if (!identity) {
      const blocked = tracker.fail(s.ip);
      await delay(l.authFailures.delay);
      if (blocked) throw blockedError();
      throw new RelayError('RELAY_AUTH_FAILED', 'Authentication credentials invalid', {
        detail: { rule: `identities.users`, failures: tracker.failures(s.ip) },
      });
    }
    s.identity = identity;
    s.via = 'auth';
    s.authUser = username;
    this.deps.logger.info(
      { listener: l.name, ip: s.ip, identity: identity.name, user: username },
      'smtp: authenticated',
    );
    return username;
  }

  private policy(l: ListenerConfig, identity: IdentityConfig): IdentityPolicy {
    return effectivePolicy(identity, l);
  }

  private onMailFrom(
    l: ListenerConfig,
    address: SMTPServerAddress,
    session: SMTPServerSession,
  ): Error | null {
    if (this.closing) return this.reject(l, session, new RelayError('RELAY_SHUTTING_DOWN'));
    const s = this.state(session);
    s.mailFrom = undefined;
    if (!s.identity) {
      return this.reject(
        l,
        session,
        this.canAuth(l)
          ? new RelayError('RELAY_AUTH_REQUIRED', 'Authentication required')
          : l.tls.clientCertificates
            ? new RelayError('RELAY_CERT_REJECTED', 'A trusted client certificate is required', {
                detail: { rule: `listeners.${l.name}.tls.clientCertificates` },
              })
            : new RelayError('RELAY_ACCESS_DENIED'),
      );
    }
    const policy = this.policy(l, s.identity);
    const args = address.args as Record<string, unknown> | false | undefined;
    const sizeArg = args ? args.SIZE : undefined;
    const declared = typeof sizeArg === 'string' && /^\d+$/.test(sizeArg) ? Number(sizeArg) : undefined;
    const facts = {
      stage: 'mail' as const,
      mailFrom: address.address,
      ...(declared === undefined ? {} : { declaredSize: declared }),
    };
    let d = decide(policy, { ...facts, rateAvailable: true });
    // The rate budget is spent only by a MAIL FROM that would otherwise be accepted.
    if (
      d.kind === 'accept' &&
      policy.ratePerMinute !== undefined &&
      !this.rate.take(policy.identity, policy.ratePerMinute)
    ) {
      d = decide(policy, { ...facts, rateAvailable: false });
    }
    if (d.kind !== 'accept') return this.reject(l, session, decisionError(d));
    s.mailFrom = d.mailFrom ?? address.address;
    return null;
  }

  private onRcptTo(l: ListenerConfig, to: string, session: SMTPServerSession): Error | null {
    const s = this.state(session);
    if (!s.identity)
      return this.reject(l, session, new RelayError('RELAY_AUTH_REQUIRED', 'Authentication required'));
    const d = decide(this.policy(l, s.identity), {
      stage: 'rcpt',
      recipient: to,
      acceptedRecipients: session.envelope.rcptTo.length,
    });
    if (d.kind !== 'accept') return this.reject(l, session, decisionError(d));
    const rejection = rejectAtRcpt(this.deps.rules, {
      identity: s.identity.name,
      sourceIp: s.ip,
      ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
      mailFrom: s.mailFrom ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : ''),
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
    const policy = this.policy(l, identity);
    const id = newEntryId(this.now());
    const hostname = this.deps.config.appliance.hostname;
    const mailFrom = s.mailFrom ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : '');
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
            hostname,
            id,
            esmtp: session.openingCommand !== 'HELO',
            tls: session.secure,
            authenticated: s.authUser !== undefined || s.via === 'certificate',
            ...(tlsInfo ? { tlsProtocol: s.tlsProtocol ?? tlsInfo.version, tlsCipher: tlsInfo.name } : {}),
            ...(rcptTo.length === 1 ? { recipient: rcptTo[0] as string } : {}),
            date: new Date(this.now()),
          }),
          'latin1',
        ),
      );
    } catch (err) {
      failure = err;
    }
    const content = new ContentNormalizer({
      bareLineEndings: l.content.bareLineEndings,
      maxHeaderSize: l.content.maxHeaderSize,
      maxLineLength: l.content.maxLineLength,
      addMissingHeaders: l.content.addMissingHeaders,
      ...(policy.rewriteSender === undefined ? {} : { rewriteFrom: policy.rewriteSender }),
      defaultFrom: mailFrom || `MAILER-DAEMON@${hostname}`,
      messageId: `<${id}@${hostname}>`,
      date: rfc5322Date(new Date(this.now())),
    });
    const headers = new HeaderBlock(HEADER_BLOCK_LIMIT);
    let tooLarge = false;
    const spoolOut = async (parts: Buffer[]) => {
      for (const part of parts) {
        if (failure !== undefined || writer === undefined) return;
        headers.push(part);
        try {
          await writer.write(part);
        } catch (err) {
          failure = err;
          await writer.abort();
        }
      }
    };
    let streamError: Error | undefined;
    stream.once('error', (err) => {
      streamError = err;
    });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        // Past a limit or a failure, keep draining to the final dot without storing anything.
        if (failure !== undefined || writer === undefined || tooLarge) continue;
        if (stream.sizeExceeded || content.bytesIn + chunk.length > policy.maxMessageSize) {
          tooLarge = true;
          continue;
        }
        await spoolOut(content.push(chunk));
      }
    } catch (err) {
      streamError ??= err as Error;
    }
    if (streamError !== undefined || !stream.readableEnded) {
      // The client went away mid-DATA: nothing was acknowledged, so nothing may remain.
      await writer?.abort();
      throw new RelayError('RELAY_SPOOL_WRITE', 'connection lost during DATA', { cause: streamError });
    }
    if (!tooLarge && failure === undefined) await spoolOut(content.end());
    if (failure !== undefined || writer === undefined) {
      await writer?.abort();
      throw new RelayError('RELAY_SPOOL_WRITE', 'Insufficient system storage; try again later', {
        cause: failure,
      });
    }
    if (tooLarge) {
      await writer.abort();
      const d = decide(policy, {
        stage: 'data',
        size: Math.max(content.bytesIn + 1, policy.maxMessageSize + 1),
      });
      throw d.kind === 'accept' ? new RelayError('RELAY_MESSAGE_TOO_LARGE') : decisionError(d);
    }
    if (content.violation) {
      await writer.abort();
      const v = content.violation;
      throw new RelayError(v.code, v.message.replace(/^\d\.\d+\.\d+ /, ''), {
        detail: { rule: `listeners.${l.name}.content` },
      });
    }
    if (content.bareLineEndings > 0 || content.changes.length > 0) {
      this.deps.logger.info(
        {
          listener: l.name,
          ip: s.ip,
          identity: identity.name,
          id,
          bareLineEndingsNormalized: content.bareLineEndings,
          changes: content.changes,
        },
        'smtp: message content repaired',
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
    const cannotCarry = await this.carry.refusal(decision.legs, writer.bytes, () => writer.contentSoFar());
    if (cannotCarry !== undefined) {
      await writer.abort();
      throw cannotCarry;
    }
    const deliveries = planDeliveries(decision, identity, receivedAt);
    const messageId = content.messageIdHeader ?? headerValue(fields, 'message-id');
    const subject = headerValue(fields, 'subject');
    const header: SpoolHeader = {
      version: 1,
      id,
      receivedAt,
      // The identity's sender rewrite lands here, so every delivery leg uses it.
      envelope: { mailFrom, rcptTo },
      identity: identity.name,
      ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
      sourceIp: s.ip,
      listener: l.name,
      ...(session.hostNameAppearsAs ? { heloName: String(session.hostNameAppearsAs).slice(0, 255) } : {}),
      ...(tlsInfo ? { tls: { protocol: s.tlsProtocol ?? tlsInfo.version, cipher: tlsInfo.name } } : {}),
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
      // Rule per leg, so an operator can hold the trace against `route explain`.
      rules: decision.legs.map((leg) => leg.rule),
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
