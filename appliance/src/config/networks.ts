// Config room: IP addresses and CIDR ranges (identity `networks`, rule `sourceNetwork`), parsed and
// matched by ipaddr.js so the config check, the receiver's identity lookup and the router agree. An
// IPv4-mapped IPv6 address ("::ffff:10.1.2.3", as dual-stack sockets report IPv4 clients) counts as
// the IPv4 address; a zone index ("%eth0") is ignored. Node's isIP gates the text first, so only the
// address forms Node itself accepts are read. Pure.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** smtp-server reports IPv4 clients on a dual-stack socket as ::ffff:a.b.c.d; config names plain IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m?.[1] ?? ip;
}

/** An address parsed once (per message), ready to match against ranges. */
export interface ParsedIp {
  readonly family: 4 | 6;
  /** Network-order bytes (4 or 16). */
  readonly bytes: Uint8Array;
  readonly addr: Addr;
}

/** A range ("10.0.0.0/8", "2001:db8::/32", or one address as a /32 or /128). */
export interface ParsedCidr extends ParsedIp {
  readonly bits: number;
  readonly text: string;
}

function toParsed(a: Addr): ParsedIp {
  const addr =
    a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
  return { family: addr.kind() === 'ipv4' ? 4 : 6, bytes: Uint8Array.from(addr.toByteArray()), addr };
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); undefined when it is neither. */
export function parseIp(text: string): ParsedIp | undefined {
  if (isIP(text) === 0) return undefined;
  return toParsed(ipaddr.parse(text));
}

/** Parses a range; host bits are allowed here (they are masked), config refuses them (networkProblem). */
export function parseCidr(text: string): ParsedCidr | undefined {
  const [addrText = '', bitsText, extra] = text.split('/');
  if (extra !== undefined || isIP(addrText) === 0) return undefined;
  const raw = ipaddr.parse(addrText);
  const max = raw.kind() === 'ipv4' ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const given = bitsText === undefined ? max : Number(bitsText);
  if (given > max) return undefined;
  const ip = toParsed(raw);
  // A mapped range ("::ffff:10.0.0.0/104") is the IPv4 range it maps (/8).
  const bits = ip.family === 4 && raw.kind() === 'ipv6' ? Math.max(given - 96, 0) : given;
  return { ...ip, bits, text };
}

export function cidrContains(net: ParsedCidr, ip: ParsedIp): boolean {
  return net.family === ip.family && ip.addr.match(net.addr, net.bits);
}

/**
 * Why `text` is not a usable range, or undefined. A range with host bits set ("10.1.2.3/16") is
 * refused rather than silently widened: it is usually a typo for one address or another network.
 */
export function networkProblem(text: string): string | undefined {
  const net = parseCidr(text);
  if (net === undefined) {
    return `"${text}" must be an IP address or CIDR range such as 192.168.10.0/24 or 2001:db8::/48`;
  }
  if (!text.includes('/')) return undefined;
  const [addrText = ''] = text.split('/');
  const raw = ipaddr.parse(addrText);
  const bits = Number(text.split('/')[1]);
  const network = (raw.kind() === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6).networkAddressFromCIDR(
    `${raw.toString()}/${bits}`,
  );
  if (network.toString() !== raw.toString()) {
    return `"${text}" has host bits set; write the network ${network.toString()}/${bits}, or the one address ${addrText}`;
  }
  return undefined;
}

/** First range of `nets` that contains `ip`. */
export function firstContaining(nets: readonly ParsedCidr[], ip: ParsedIp): ParsedCidr | undefined {
  return nets.find((n) => cidrContains(n, ip));
}
