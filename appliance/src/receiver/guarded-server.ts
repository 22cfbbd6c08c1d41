// smtp-server with the per-connection guards it lacks: a total session deadline (its socketTimeout is
// an idle timer that any byte resets, so a client trickling one byte a second stays forever), a
// configurable cap on unrecognised commands (the library's is fixed at 10), and a clear 530 for AUTH
// before STARTTLS (the receiver hides AUTH until TLS is up, which the library would answer with
// "500 command not recognized"). All hook the one place a connection is born, `connect()`, and use
// only the connection's public `send`/`close`.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { RelayError } from '../errors.ts';
import { looksLikeProxyCommand, type ProxyIntake, readProxyHeader, refuseSocket } from './proxy-intake.ts';

export type GuardCode =
  | 'RELAY_SESSION_TIMEOUT'
  | 'RELAY_UNKNOWN_COMMANDS'
  | 'RELAY_TLS_REQUIRED'
  | 'RELAY_PROTOCOL_ERROR';

export interface ConnectionGuards {
  readonly sessionTimeoutMs: number;
  readonly maxUnknownCommands: number;
  /** The listener offers STARTTLS, so AUTH before it is answered "530 Must issue a STARTTLS command first". */
  readonly startTls: boolean;
  /**
   * Told when a guard refuses a command or ends a connection, and when smtp-server itself refuses
   * one (syntax, command order, early talker, line too long), so every refusal is logged and counted.
   */
  readonly onGuard: (code: GuardCode, sessionId: string, reply?: string) => void;
  /** PROXY protocol on this listener (replaces smtp-server's v1-only `useProxy`). */
  readonly proxy?: ProxyIntake;
}

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/** How smtp-server 3.x words its reply to an unknown command (checked by a hostile-corpus test). */
const UNKNOWN_COMMAND_REPLY = 'Error: command not recognized';

export class GuardedSmtpServer extends SMTPServer {
  private readonly guards: ConnectionGuards;
  /** Sockets of a PROXY listener from untrusted peers: their first line must not be a header. */
  private readonly untrusted = new WeakSet<Socket>();

  constructor(options: SMTPServerOptions, guards: ConnectionGuards) {
    super(options);
    this.guards = guards;
  }

  override _expectsProxyHeader(socket: Socket): boolean {
    const proxy = this.guards.proxy;
    return proxy ? proxy.trusts(socket.remoteAddress ?? '') : super._expectsProxyHeader(socket);
  }

  override _handleProxy(socket: Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    const proxy = this.guards.proxy;
    if (!proxy) {
      super._handleProxy(socket, callback);
      return;
    }
    // The session id format smtp-server itself gives connections.
    const id = BigInt(`0x${randomBytes(10).toString('hex')}`)
      .toString(32)
      .padStart(16, '0');
    const peer = socket.remoteAddress ?? '';
    if (!proxy.trusts(peer)) {
      this.untrusted.add(socket);
      setImmediate(() => callback(null, { id }));
      return;
    }
    void readProxyHeader(socket, proxy.headerTimeoutMs).then((r) => {
      if (!r.ok) {
        proxy.onRefused(peer, r.reason);
        refuseSocket(socket);
        callback(new Error(r.reason));
        return;
      }
      callback(null, {
        id,
        ...(r.source ? { remoteAddress: r.source.address, remotePort: r.source.port } : {}),
      });
    });
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    const before = new Set(this.connections);
    super.connect(socket, socketOptions);
    for (const conn of this.connections) if (!before.has(conn)) this.guard(conn, socket);
  }

  private guard(conn: Connection, socket: Socket | TLSSocket): void {
    const { sessionTimeoutMs, maxUnknownCommands, startTls, onGuard } = this.guards;
    const end = (code: GuardCode, text: string) => {
      const err = new RelayError(code, text);
      onGuard(code, conn.id);
      originalSend(err.responseCode as number, err.message);
      conn.close();
    };

    const deadline = () => {
      if (conn._closed || conn._closing) return;
      // A message whose DATA is complete is being committed: finish it rather than make the client
      // resend it; the client can no longer stretch the session.
      if (conn._handlerPending) {
        timer = setTimeout(deadline, 1000);
        timer.unref();
        return;
      }
      end('RELAY_SESSION_TIMEOUT', 'Session time limit exceeded, closing connection');
    };
    let timer: NodeJS.Timeout = setTimeout(deadline, sessionTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));

    if (this.guards.proxy && this.untrusted.has(socket)) this.refuseUntrustedHeader(conn, socket);

    let unknown = 0;
    const originalSend = conn.send.bind(conn);
    conn.send = (code, data, context) => {
      if (code === 500 && data === UNKNOWN_COMMAND_REPLY) {
        if (context === 'AUTH' && startTls && !conn.secure) {
          const err = new RelayError('RELAY_TLS_REQUIRED', 'Must issue a STARTTLS command first');
          onGuard('RELAY_TLS_REQUIRED', conn.id);
          originalSend(err.responseCode as number, err.message, context);
          return;
        }
        unknown++;
        if (unknown >= maxUnknownCommands) {
          end('RELAY_UNKNOWN_COMMANDS', 'Too many unrecognized commands, closing connection');
          return;
        }
      }
      // The receiver's own refusals lead with an enhanced status code and are logged where they are
      // made; a bare 4xx/5xx comes from smtp-server's protocol checks.
      if (code >= 400 && typeof data === 'string' && !/^\d\.\d{1,3}\.\d{1,3} /.test(data)) {
        onGuard('RELAY_PROTOCOL_ERROR', conn.id, `${code} ${data}`.slice(0, 200));
      }
      originalSend(code, data, context);
    };
  }

  /** An untrusted peer whose first line is a PROXY header is refused before smtp-server answers it. */
  private refuseUntrustedHeader(conn: Connection, socket: Socket | TLSSocket): void {
    const proxy = this.guards.proxy as ProxyIntake;
    const original = conn._onCommand.bind(conn);
    conn._onCommand = (command, callback) => {
      conn._onCommand = original;
      if (!looksLikeProxyCommand(command)) {
        original(command, callback);
        return;
      }
      proxy.onRefused(
        socket.remoteAddress ?? '',
        'PROXY header from a source not in proxyProtocol.trustedSources',
      );
      refuseSocket(socket);
    };
  }
}
