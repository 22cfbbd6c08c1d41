// Receiver room: reading the PROXY protocol header (proxy-header.ts) off a fresh socket of a listener
// with `proxyProtocol`, before smtp-server sees any byte. Only sources in `trustedSources` must send
// it; any other source that sends one is refused (it could claim any address and slip past the
// allowlist). Refusals end the socket with one 421 line and go to `onRefused` for the log.
import type { Socket } from 'node:net';
import { type ParsedCidr, parseCidr, parseIp } from '../config/networks.ts';
import { mayBeProxyHeader, type ProxySource, parseProxyHeader } from './proxy-header.ts';

export interface ProxyIntake {
  /** The socket peer may (and must) send a PROXY header. */
  trusts(peer: string): boolean;
  /** Called once per refused connection, with the socket peer and why. */
  onRefused(peer: string, reason: string): void;
  /** How long a trusted peer has to send its header. */
  readonly headerTimeoutMs: number;
}

export function trustedSources(cidrs: readonly string[]): (peer: string) => boolean {
  const nets: ParsedCidr[] = cidrs.flatMap((c) => parseCidr(c) ?? []);
  return (peer) => {
    const ip = parseIp(peer);
    return ip !== undefined && nets.some((n) => n.family === ip.family && ip.addr.match(n.addr, n.bits));
  };
}

/** The one reply a refused connection gets (no banner was sent yet). */
export const PROXY_REFUSED_REPLY = '421 4.7.0 PROXY protocol header refused, closing connection\r\n';

/**
 * Reads the header from a trusted peer. Resolves with the carried source (undefined: LOCAL/UNKNOWN,
 * keep the peer) or a refusal reason; bytes after the header are put back for smtp-server.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
): Promise<{ ok: true; source?: ProxySource; version: 1 | 2 } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (
      r: { ok: true; source?: ProxySource; version: 1 | 2 } | { ok: false; reason: string },
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      resolve(r);
    };
    const onEnd = () => finish({ ok: false, reason: 'connection closed before a complete PROXY header' });
    const onError = (err: Error) =>
      finish({ ok: false, reason: `socket error before the PROXY header: ${err.message}` });
    const onReadable = () => {
      for (
        let chunk = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      ) {
        buf = Buffer.concat([buf, chunk]);
        const p = parseProxyHeader(buf);
        if (p.kind === 'incomplete') continue;
        if (p.kind === 'invalid') return finish({ ok: false, reason: p.reason });
        if (buf.length > p.length) socket.unshift(buf.subarray(p.length));
        return finish({ ok: true, version: p.version, ...(p.source ? { source: p.source } : {}) });
      }
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no complete PROXY header within ${timeoutMs} ms` }),
      timeoutMs,
    );
    timer.unref();
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

/** Ends a refused socket with the 421 line (best effort) and makes sure it goes away. */
export function refuseSocket(socket: Socket): void {
  socket.on('error', () => {});
  if (socket.writable) socket.end(PROXY_REFUSED_REPLY);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** A first SMTP line from an untrusted peer that is a PROXY header (v1 line, or v2's leading CRLF). */
export function looksLikeProxyCommand(line: Buffer): boolean {
  return line.length === 0 || mayBeProxyHeader(line);
}
