// A raw SMTP client over a plain socket, for tests where exact reply codes and bytes matter.
import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface Reply {
  readonly code: number;
  readonly lines: string[];
  readonly text: string;
}

export class RawSmtp {
  private socket: Socket;
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Implicit TLS from the first byte. */
  static connectTls(port: number, opts: ConnectionOptions = {}): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () =>
        resolve(new RawSmtp(s)),
      );
      s.once('error', reject);
    });
  }

  /**
   * Sends STARTTLS (unless the caller already wrote it, e.g. with injected commands behind it); on
   * 220 continues the session over TLS (the handshake must succeed).
   */
  async startTls(
    opts: ConnectionOptions = {},
    alreadySent = false,
  ): Promise<{ reply: Reply; socket?: TLSSocket }> {
    const reply = alreadySent ? await this.reply() : await this.command('STARTTLS');
    if (reply.code !== 220) return { reply };
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({ socket: plain, rejectUnauthorized: false, ...opts }, () => resolve(t));
      t.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return { reply, socket: secure };
  }

  get tlsSocket(): TLSSocket | undefined {
    return 'encrypted' in this.socket ? (this.socket as TLSSocket) : undefined;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** `localAddress` picks the source address (any of 127.0.0.0/8 on Linux loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () =>
        resolve(new RawSmtp(s)),
      );
      s.once('error', reject);
    });
  }

  /** Reads one complete (possibly multi-line) reply. */
  async reply(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r?\n)*)(\d{3})(?: [^\r\n]*)?\r?\n/.exec(this.buffer);
      if (m) {
        const raw = m[0];
        this.buffer = this.buffer.slice(raw.length);
        const lines = raw.split(/\r?\n/).filter((l) => l.length > 0);
        return { code: Number(m[2]), lines, text: raw };
      }
      if (this.closed) throw new Error(`connection closed; pending bytes: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no reply within ${timeoutMs} ms; pending: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string, timeoutMs?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Waits for the server to close the connection. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }
}
