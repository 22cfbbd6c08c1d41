// Receiving room, the SMTP command gates: who may send (identity by network address, verified client
// certificate or AUTH, with the brute-force lockout), what each MAIL FROM and RCPT TO may do under the
// identity's policy (policy.ts) and the routing rules' RCPT-time refusals, and the one place a refusal
// is counted and logged. Holds the per-session state the DATA path (data-path.ts) reads. No I/O
// besides logs and metrics; smtp-server and the listeners are server.ts's.
import type { TLSSocket } from 'node:tls';
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { normalizeIp } from '../config/networks.ts';
import type { Config, IdentityConfig, ListenerConfig } from '../config/schema.ts';
import { isRelayError, RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import { type CompiledRules, rejectAtRcpt, rejectionError } from '../routing/router.ts';
import { AuthFailureTracker, delay, RateLimiter } from './abuse.ts';
import { AccessMap } from './access.ts';
import type { LockoutState } from './lockout-state.ts';
import { decide, decisionError, effectivePolicy, type IdentityPolicy } from './policy.ts';
import type { SessionState } from './session-state.ts';

export interface GateDeps {
  readonly config: Config;
  readonly rules: CompiledRules;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly now: () => number;
  /** True once the receiver is shutting down: new sessions and transactions get 421. */
  readonly isClosing: () => boolean;
  /** Lockouts kept across restarts; without it they live in memory only. */
  readonly lockouts?: LockoutState;
}

export class SessionGates {
  private readonly deps: GateDeps;
  private readonly access: AccessMap;
  private readonly sessions = new Map<string, SessionState>();
  private readonly authFailures = new Map<string, AuthFailureTracker>();
  private readonly rate: RateLimiter;
  private readonly now: () => number;

  constructor(deps: GateDeps) {
    this.deps = deps;
    this.access = new AccessMap(deps.config);
    this.now = deps.now;
    this.rate = new RateLimiter(this.now);
    for (const l of deps.config.listeners) {
      const opts = {
        limit: l.authFailures.limit,
        windowMs: l.authFailures.window,
        blockMs: l.authFailures.block,
      };
      this.authFailures.set(
        l.name,
        deps.lockouts?.tracker(`smtp:${l.name}`, opts) ?? new AuthFailureTracker(opts, this.now),
      );
    }
  }

  private isClosing(): boolean {
    return this.deps.isClosing();
  }

  /** The session's state, if smtp-server has one open under `id`. */
  get(id: string): SessionState | undefined {
    return this.sessions.get(id);
  }

  /** Forgets a closed session. */
  end(id: string): void {
    this.sessions.delete(id);
  }

  private tracker(l: ListenerConfig): AuthFailureTracker {
    return this.authFailures.get(l.name) as AuthFailureTracker;
  }

  /** Commands disabled on a listener whatever the session (STARTTLS without TLS, AUTH where unsafe). */
  baseDisabled(l: ListenerConfig): string[] {
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

  state(session: SMTPServerSession): SessionState {
    let s = this.sessions.get(session.id);
    if (!s) {
      s = { ip: normalizeIp(session.remoteAddress) };
      this.sessions.set(session.id, s);
    }
    return s;
  }

  /** Counts and logs a refusal (identity, source, rule, reason), and returns the error to send. */
  reject(l: ListenerConfig, session: SMTPServerSession, err: unknown): Error {
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

  onConnect(l: ListenerConfig, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.isClosing()) {
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
  onSecure(l: ListenerConfig, socket: TLSSocket, session: SMTPServerSession): Error | null {
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

  async onAuth(
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

  onMailFrom(l: ListenerConfig, address: SMTPServerAddress, session: SMTPServerSession): Error | null {
    if (this.isClosing()) return this.reject(l, session, new RelayError('RELAY_SHUTTING_DOWN'));
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

  onRcptTo(l: ListenerConfig, to: string, session: SMTPServerSession): Error | null {
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
}
