// smtp-server with the per-connection guards it lacks: a total session deadline (its socketTimeout is
// an idle timer that any byte resets, so a client trickling one byte a second stays forever), a
// configurable cap on unrecognised commands (the library's is fixed at 10), and a clear 530 for AUTH
// before STARTTLS (the receiver hides AUTH until TLS is up, which the library would answer with
// "500 command not recognized"). All hook the one place a connection is born, `connect()`, and use
// only the connection's public `send`/`close`.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { RelayError } from '../errors.ts';

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
}

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/** How smtp-server 3.x words its reply to an unknown command (checked by a hostile-corpus test). */
const UNKNOWN_COMMAND_REPLY = 'Error: command not recognized';

export class GuardedSmtpServer extends SMTPServer {
  private readonly guards: ConnectionGuards;

  constructor(options: SMTPServerOptions, guards: ConnectionGuards) {
    super(options);
    this.guards = guards;
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
}
