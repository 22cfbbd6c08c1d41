// smtp-server with two per-connection guards it lacks: a total session deadline (its socketTimeout is
// an idle timer that any byte resets, so a client trickling one byte a second stays forever) and a
// configurable cap on unrecognised commands (the library's is fixed at 10). Both hook the one place
// a connection is born, `connect()`, and use only the connection's public `send`/`close`.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { RelayError } from '../errors.ts';

export interface ConnectionGuards {
  readonly sessionTimeoutMs: number;
  readonly maxUnknownCommands: number;
  /** Told when a guard ends a connection (for logs and metrics). */
  readonly onGuard: (code: 'RELAY_SESSION_TIMEOUT' | 'RELAY_UNKNOWN_COMMANDS', sessionId: string) => void;
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
    const { sessionTimeoutMs, maxUnknownCommands, onGuard } = this.guards;
    const end = (code: 'RELAY_SESSION_TIMEOUT' | 'RELAY_UNKNOWN_COMMANDS', text: string) => {
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
        unknown++;
        if (unknown >= maxUnknownCommands) {
          end('RELAY_UNKNOWN_COMMANDS', 'Too many unrecognized commands, closing connection');
          return;
        }
      }
      originalSend(code, data, context);
    };
  }
}
