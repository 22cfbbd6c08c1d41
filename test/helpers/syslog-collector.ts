// A syslog collector for tests: a real node:net or node:tls listener on 127.0.0.1 that splits the
// stream by RFC 6587 octet counting and parses each RFC 5424 message field by field, written from
// the RFC's ABNF (not from the sender's code): HEADER, STRUCTURED-DATA, MSG.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

export interface SyslogMessage {
  readonly pri: number;
  readonly facility: number;
  readonly severity: number;
  readonly version: string;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  /** SD-ID → PARAM-NAME → unescaped PARAM-VALUE. */
  readonly sd: Record<string, Record<string, string>>;
  /** MSG after the BOM. */
  readonly msg: string;
  readonly hadBom: boolean;
  /** MSG-LEN as framed equals the octets that followed. */
  readonly length: number;
  /** The TLS protocol of the connection it came on (undefined over TCP). */
  readonly tlsProtocol?: string;
}

/** Parses one SYSLOG-MSG (RFC 5424 §6); throws on anything the ABNF does not allow. */
export function parseSyslog(raw: Buffer, length: number, tlsProtocol?: string): SyslogMessage {
  const text = raw.toString('utf8');
  const head = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (!head) throw new Error(`not an RFC 5424 header: ${text.slice(0, 80)}`);
  const [, pri, version, timestamp, hostname, appName, procId, msgId] = head as unknown as string[];
  let i = head[0].length;
  const sd: Record<string, Record<string, string>> = {};
  if (text[i] === '-') i++;
  else {
    while (text[i] === '[') {
      const id = /^\[([^ =\]"]{1,32})/.exec(text.slice(i));
      if (!id) throw new Error(`bad SD-ID at ${i}`);
      i += id[0].length;
      const params: Record<string, string> = {};
      while (text[i] === ' ') {
        const name = /^ ([^ =\]"]{1,32})="/.exec(text.slice(i));
        if (!name) throw new Error(`bad SD-PARAM at ${i}`);
        i += name[0].length;
        let value = '';
        while (text[i] !== '"') {
          if (i >= text.length) throw new Error('unterminated PARAM-VALUE');
          if (text[i] === '\\' && ['"', '\\', ']'].includes(text[i + 1] as string)) i++;
          else if (text[i] === ']') throw new Error('unescaped ] in PARAM-VALUE');
          value += text[i];
          i++;
        }
        i++;
        params[name[1] as string] = value;
      }
      if (text[i] !== ']') throw new Error(`SD-ELEMENT not closed at ${i}`);
      i++;
      sd[id[1] as string] = params;
    }
  }
  let msg = '';
  if (i < text.length) {
    if (text[i] !== ' ') throw new Error('no SP before MSG');
    msg = text.slice(i + 1);
  }
  const hadBom = msg.startsWith('\uFEFF');
  const p = Number(pri);
  return {
    pri: p,
    facility: Math.floor(p / 8),
    severity: p % 8,
    version: version as string,
    timestamp: timestamp as string,
    hostname: hostname as string,
    appName: appName as string,
    procId: procId as string,
    msgId: msgId as string,
    sd,
    msg: hadBom ? msg.slice(1) : msg,
    hadBom,
    length,
    ...(tlsProtocol === undefined ? {} : { tlsProtocol }),
  };
}

export interface SyslogCollector {
  readonly port: number;
  readonly messages: SyslogMessage[];
  /** Frames that did not parse (must stay empty). */
  readonly errors: string[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** The parsed JSON of every MSG. */
  lines(): Record<string, unknown>[];
  close(): Promise<void>;
}

export interface CollectorOptions {
  readonly port?: number;
  /** TLS with this certificate and key (RFC 5425); TCP otherwise. */
  readonly tls?: { cert: string; key: string };
  /** Accept connections but never read from them (a hung collector). */
  readonly hang?: boolean;
}

/** Splits octet-counted frames out of one connection's bytes. */
function frameReader(onFrame: (body: Buffer, length: number) => void, onError: (e: string) => void) {
  let buf = Buffer.alloc(0);
  return (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const lenText = buf.subarray(0, sp).toString('ascii');
      if (!/^[1-9]\d{0,8}$/.test(lenText)) {
        onError(`bad MSG-LEN ${JSON.stringify(lenText)}`);
        buf = Buffer.alloc(0);
        return;
      }
      const len = Number(lenText);
      if (buf.length < sp + 1 + len) return;
      onFrame(buf.subarray(sp + 1, sp + 1 + len), len);
      buf = buf.subarray(sp + 1 + len);
    }
  };
}

export async function startCollector(opts: CollectorOptions = {}): Promise<SyslogCollector> {
  const messages: SyslogMessage[] = [];
  const errors: string[] = [];
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const onSocket = (socket: Socket | TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (opts.hang) {
      socket.pause();
      return;
    }
    const protocol = 'getProtocol' in socket ? (socket.getProtocol() ?? undefined) : undefined;
    socket.on(
      'data',
      frameReader(
        (body, length) => {
          try {
            messages.push(parseSyslog(body, length, protocol));
          } catch (err) {
            errors.push((err as Error).message);
          }
        },
        (e) => errors.push(e),
      ),
    );
  };
  const server: Server = opts.tls
    ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, onSocket)
    : createTcpServer(onSocket);
  server.on('tlsClientError', () => {});
  // Counted at TCP accept, so a client that gives up during the TLS handshake counts too.
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    messages,
    errors,
    get connections() {
      return state.connections;
    },
    lines: () => messages.map((m) => JSON.parse(m.msg) as Record<string, unknown>),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
