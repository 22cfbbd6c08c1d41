// Receiver room, pure: the PROXY protocol header (haproxy.org proxy-protocol.txt) that a load balancer
// puts before the first SMTP byte to carry the real client address. v1 is one text line of at most
// 107 bytes; v2 is a 16-byte binary preamble (12-byte signature, version/command, family/protocol,
// length) and an address block. smtp-server reads v1 only, from exact addresses only, and logs its
// refusals to its own (disabled) logger; the listener glue (proxy-intake.ts) uses this parser instead.
import { isIP } from 'node:net';

/** The v2 signature: "\r\n\r\n\0\r\nQUIT\n" (a v1-only or plain SMTP server reads it as QUIT). */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1: 107 bytes including CRLF (spec §2.1). */
export const PROXY_V1_MAX = 107;
/** v2: 16-byte preamble + address block; we accept TLVs up to this total (spec allows 64 KiB). */
export const PROXY_V2_MAX = 16 + 1024;

export interface ProxySource {
  readonly address: string;
  readonly port: number;
}

export type ProxyParse =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | {
      readonly kind: 'ok';
      readonly version: 1 | 2;
      /** Absent for v1 UNKNOWN and v2 LOCAL (the balancer's own health check): use the socket peer. */
      readonly source?: ProxySource;
      /** Header bytes; anything after them is SMTP. */
      readonly length: number;
    };

/** True while `buf` could still be the start of a v1 or v2 header (used on the first bytes). */
export function mayBeProxyHeader(buf: Buffer): boolean {
  const n = Math.min(buf.length, 12);
  return (
    buf
      .subarray(0, Math.min(n, V1_PREFIX.length))
      .equals(V1_PREFIX.subarray(0, Math.min(n, V1_PREFIX.length))) ||
    buf.subarray(0, n).equals(PROXY_V2_SIGNATURE.subarray(0, n))
  );
}

/** Parses a header at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return { kind: 'incomplete' };
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50) return parseV1(buf);
  return {
    kind: 'invalid',
    reason: 'no PROXY header (the first bytes are not "PROXY " nor the v2 signature)',
  };
}

function parseV1(buf: Buffer): ProxyParse {
  const n = Math.min(buf.length, V1_PREFIX.length);
  if (!buf.subarray(0, n).equals(V1_PREFIX.subarray(0, n))) {
    return {
      kind: 'invalid',
      reason: 'no PROXY header (the first bytes are not "PROXY " nor the v2 signature)',
    };
  }
  const lf = buf.indexOf(0x0a);
  if (lf === -1) {
    return buf.length >= PROXY_V1_MAX
      ? { kind: 'invalid', reason: `v1 header longer than ${PROXY_V1_MAX} bytes` }
      : { kind: 'incomplete' };
  }
  if (lf + 1 > PROXY_V1_MAX)
    return { kind: 'invalid', reason: `v1 header longer than ${PROXY_V1_MAX} bytes` };
  if (buf[lf - 1] !== 0x0d) return { kind: 'invalid', reason: 'v1 header does not end in CRLF' };
  const parts = buf
    .subarray(0, lf - 1)
    .toString('latin1')
    .split(' ');
  const proto = parts[1];
  if (proto === 'UNKNOWN') return { kind: 'ok', version: 1, length: lf + 1 };
  if ((proto !== 'TCP4' && proto !== 'TCP6') || parts.length !== 6) {
    return { kind: 'invalid', reason: 'v1 header is not "PROXY TCP4|TCP6 src dst sport dport"' };
  }
  const [, , src = '', dst = '', sport = '', dport = ''] = parts;
  const family = proto === 'TCP4' ? 4 : 6;
  if (isIP(src) !== family || isIP(dst) !== family) {
    return { kind: 'invalid', reason: `v1 header addresses are not ${proto} addresses` };
  }
  if (!isPort(sport) || !isPort(dport)) return { kind: 'invalid', reason: 'v1 header ports are not 0-65535' };
  return { kind: 'ok', version: 1, source: { address: src, port: Number(sport) }, length: lf + 1 };
}

function isPort(s: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(s) && Number(s) <= 65535;
}

function parseV2(buf: Buffer): ProxyParse {
  const n = Math.min(buf.length, 12);
  if (!buf.subarray(0, n).equals(PROXY_V2_SIGNATURE.subarray(0, n))) {
    return {
      kind: 'invalid',
      reason: 'no PROXY header (the first bytes are not "PROXY " nor the v2 signature)',
    };
  }
  if (buf.length < 16) return { kind: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: `v2 header version ${verCmd >> 4} is not 2` };
  const command = verCmd & 0x0f;
  if (command > 1)
    return { kind: 'invalid', reason: `v2 header command ${command} is neither LOCAL nor PROXY` };
  const famProto = buf[13] as number;
  const len = buf.readUInt16BE(14);
  const total = 16 + len;
  if (total > PROXY_V2_MAX) return { kind: 'invalid', reason: `v2 header longer than ${PROXY_V2_MAX} bytes` };
  if (buf.length < total) return { kind: 'incomplete' };
  // LOCAL: the balancer talks for itself (health check); the address block is ignored.
  if (command === 0) return { kind: 'ok', version: 2, length: total };
  const block = buf.subarray(16, total);
  switch (famProto) {
    case 0x11: // TCP over IPv4: src(4) dst(4) sport(2) dport(2)
      if (len < 12) return { kind: 'invalid', reason: 'v2 IPv4 address block shorter than 12 bytes' };
      return {
        kind: 'ok',
        version: 2,
        source: { address: Array.from(block.subarray(0, 4)).join('.'), port: block.readUInt16BE(8) },
        length: total,
      };
    case 0x21: {
      // TCP over IPv6: src(16) dst(16) sport(2) dport(2)
      if (len < 36) return { kind: 'invalid', reason: 'v2 IPv6 address block shorter than 36 bytes' };
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(block.readUInt16BE(i).toString(16));
      return {
        kind: 'ok',
        version: 2,
        source: { address: groups.join(':'), port: block.readUInt16BE(32) },
        length: total,
      };
    }
    default:
      return {
        kind: 'invalid',
        reason: `v2 header family/protocol 0x${famProto.toString(16).padStart(2, '0')} is not TCP over IPv4/IPv6`,
      };
  }
}
