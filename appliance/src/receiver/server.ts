// The receiving room: SMTP listeners on smtp-server. This file is the glue: it opens the listeners
// (TLS, connection guards, SIGHUP certificate reload), hands each SMTP command to the gates that decide
// who may send what (session-gates.ts: identity, policy, abuse controls) and DATA to the named steps
// of data-path.ts, which answer 250 only after Spool.commit has fsynced the entry. Committed entries
// go to a callback (the engine); nothing else of delivery is touched.
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SMTPServer, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { isLegacyTls } from '../config/listener.ts';
import type { Config, ListenerConfig } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import type { CompiledRules } from '../routing/router.ts';
import { newEntryId } from '../spool/entry-name.ts';
import type { Spool, SpoolEntry } from '../spool/spool.ts';
import { CarryCheck } from './carry-check.ts';
import { type DataPathDeps, queuedReply, receiveData } from './data-path.ts';
import { type GuardCode, GuardedSmtpServer } from './guarded-server.ts';
import type { LockoutState } from './lockout-state.ts';
import { effectivePolicy } from './policy.ts';
import { trustedSources } from './proxy-intake.ts';
import { SessionGates } from './session-gates.ts';
import { effectiveCiphers, TlsReloader, tlsOptions } from './tls.ts';

export interface ReceiverDeps {
  readonly config: Config;
  readonly spool: Spool;
  readonly rules: CompiledRules;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Called once per committed entry, after the 250 is decided. */
  readonly onAccepted: (entry: SpoolEntry) => void;
  readonly now?: () => number;
  /** AUTH lockouts kept across restarts (lockout-state.ts). */
  readonly lockouts?: LockoutState;
}

/** The listener key behind each connection guard, for the `rule` of its log line. */
const GUARD_KEYS: Record<GuardCode, string> = {
  RELAY_SESSION_TIMEOUT: 'sessionTimeout',
  RELAY_UNKNOWN_COMMANDS: 'maxUnknownCommands',
  RELAY_TLS_REQUIRED: 'tls',
  RELAY_PROTOCOL_ERROR: 'smtp',
};

export interface BoundListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export class Receiver {
  private readonly deps: ReceiverDeps;
  private readonly servers: { listener: ListenerConfig; server: SMTPServer; tls?: TlsReloader }[] = [];
  private readonly gates: SessionGates;
  private readonly data: DataPathDeps;
  private readonly now: () => number;
  private readonly onSighup = () => this.reloadTls('SIGHUP');
  private listening = false;
  private closing = false;

  constructor(deps: ReceiverDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.gates = new SessionGates({ ...deps, now: this.now, isClosing: () => this.closing });
    this.data = {
      ...deps,
      carry: new CarryCheck(deps.config.routes, deps.rules.fallbacks),
      now: this.now,
    };
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
        ...(listener.proxyProtocol ? { proxy: this.proxyIntake(listener) } : {}),
        onGuard: (code, sessionId, reply) => {
          this.deps.metrics.inc('relaykit_rejected_total', { reason: code });
          const st = this.gates.get(sessionId);
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
      disabledCommands: this.gates.baseDisabled(l),
      onConnect: (session, cb) => this.gates.onConnect(l, session, cb),
      onSecure: (socket, session, cb) => cb(this.gates.onSecure(l, socket as TLSSocket, session)),
      onAuth: (auth, session, cb) => {
        this.gates.onAuth(l, auth.method, auth.username ?? '', auth.password ?? '', session).then(
          (user) => cb(null, { user }),
          (err: unknown) => cb(this.gates.reject(l, session, err)),
        );
      },
      onMailFrom: (address, session, cb) => cb(this.gates.onMailFrom(l, address, session)),
      onRcptTo: (address, session, cb) => cb(this.gates.onRcptTo(l, address.address, session)),
      onData: (stream, session, cb) => {
        this.onData(l, stream, session).then(
          (id) => cb(null, queuedReply(id)),
          (err: unknown) => cb(this.gates.reject(l, session, err)),
        );
      },
      onClose: (session) => {
        this.gates.end(session.id);
      },
    };
  }

  /** DATA: the session's facts, then the named steps of data-path.ts. */
  private async onData(
    l: ListenerConfig,
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
  ): Promise<string> {
    const s = this.gates.state(session);
    const identity = s.identity;
    if (!identity) {
      stream.resume();
      throw new RelayError('RELAY_AUTH_REQUIRED');
    }
    const tls = session.tlsOptions || undefined;
    return receiveData(
      this.data,
      {
        listener: l,
        identity,
        policy: effectivePolicy(identity, l),
        session: s,
        id: newEntryId(this.now()),
        hostname: this.deps.config.appliance.hostname,
        mailFrom: s.mailFrom ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : ''),
        rcptTo: session.envelope.rcptTo.map((r) => r.address),
        ...(session.hostNameAppearsAs ? { heloName: session.hostNameAppearsAs } : {}),
        esmtp: session.openingCommand !== 'HELO',
        secure: session.secure,
        ...(tls ? { tls: { name: tls.name, version: tls.version } } : {}),
      },
      stream,
    );
  }

  private proxyIntake(l: ListenerConfig) {
    const p = l.proxyProtocol as NonNullable<ListenerConfig['proxyProtocol']>;
    return {
      trusts: trustedSources(p.trustedSources),
      headerTimeoutMs: p.headerTimeout,
      onRefused: (peer: string, reason: string) => {
        this.deps.metrics.inc('relaykit_rejected_total', { reason: 'RELAY_PROXY_REFUSED' });
        this.deps.logger.warn(
          {
            listener: l.name,
            ip: peer,
            code: 'RELAY_PROXY_REFUSED',
            rule: `listeners.${l.name}.proxyProtocol`,
            reason,
          },
          `smtp: PROXY protocol refused: ${reason}`,
        );
      },
    };
  }

  /** For the health endpoint and tests. */
  addresses(): BoundListener[] {
    return this.servers.map(({ listener, server }) => {
      const a = server.server.address() as AddressInfo | null;
      return { name: listener.name, address: a?.address ?? listener.address, port: a?.port ?? listener.port };
    });
  }
}
