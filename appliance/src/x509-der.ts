// Shared leaf: the DER encoding of one X.509 v3 server certificate (RFC 5280), the admin page's
// self-signed one. Pure: the caller brings the public key (SPKI DER) and signs the to-be-signed bytes
// with node:crypto; nothing here generates keys, signs, or touches a file. A hand-written encoder,
// because the X.509/ASN.1 libraries that do this cost ~600 KB of script that every first start
// compiled (seconds under the VM's software emulation) for one certificate. No relaykit imports.
import { isIPv4, isIPv6 } from 'node:net';

export interface ServerCertificateFields {
  /** Positive serial number, big-endian, at most 20 octets (RFC 5280 §4.1.2.2). */
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject and issuer common name (the certificate signs itself). */
  readonly commonName: string;
  /** subjectAltName dNSName entries. */
  readonly dnsNames: readonly string[];
  /** subjectAltName iPAddress entries, IPv4 or IPv6 text. */
  readonly ipAddresses: readonly string[];
  /** The subject's public key: SubjectPublicKeyInfo DER (KeyObject.export({ type: 'spki', format: 'der' })). */
  readonly spki: Uint8Array;
}

// Tags (X.690 §8): universal class, and context-specific [n] for explicit/implicit tagging.
const BOOLEAN = 0x01;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OBJECT_IDENTIFIER = 0x06;
const UTF8_STRING = 0x0c;
const SEQUENCE = 0x30;
const SET = 0x31;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const contextConstructed = (n: number) => 0xa0 | n;
const contextPrimitive = (n: number) => 0x80 | n;

/** Object identifiers used here (RFC 5280 §4.1.1.2, §4.2.1; RFC 5758 §3.2). */
const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** One TLV with a definite length (short form below 128, long form above: X.690 §8.1.3). */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let length: number[];
  if (n < 0x80) length = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = [0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

export function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const out: number[] = [];
  // The first two arcs share one subidentifier; each is base 128, most significant group first,
  // the high bit set on all but the last group (X.690 §8.19).
  for (const arc of [40 * a + b, ...rest]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(OBJECT_IDENTIFIER, Buffer.from(out));
}

/** An INTEGER from big-endian magnitude bytes: minimal, with a 0x00 first when the top bit is set. */
export function positiveInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = Buffer.from(bytes.subarray(i));
  return tlv(INTEGER, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole seconds, in UTC. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return d.getUTCFullYear() < 2050
    ? tlv(UTC_TIME, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(GENERALIZED_TIME, Buffer.from(digits, 'ascii'));
}

/** The 4 or 16 octets of an IP address in text form (RFC 5280 §4.2.1.6 iPAddress). */
export function ipOctets(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip.replace(/%.*$/, ''); // a zone id is not part of the address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
    text = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), 2 * i);
  return out;
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  // critical is DEFAULT FALSE: DER leaves a default value out (X.690 §11.5).
  return tlv(
    SEQUENCE,
    objectIdentifier(oid),
    ...(critical ? [tlv(BOOLEAN, Buffer.from([0xff]))] : []),
    tlv(OCTET_STRING, value),
  );
}

const signatureAlgorithm = () => tlv(SEQUENCE, objectIdentifier(OID.ecdsaWithSha256));

/** TBSCertificate (RFC 5280 §4.1): the bytes the issuer signs (here: the subject's own key). */
export function tbsCertificate(f: ServerCertificateFields): Buffer {
  const name = tlv(
    SEQUENCE,
    tlv(
      SET,
      tlv(SEQUENCE, objectIdentifier(OID.commonName), tlv(UTF8_STRING, Buffer.from(f.commonName, 'utf8'))),
    ),
  );
  const altNames = tlv(
    SEQUENCE,
    ...f.dnsNames.map((n) => tlv(contextPrimitive(2), Buffer.from(n, 'ascii'))),
    ...f.ipAddresses.map((ip) => tlv(contextPrimitive(7), ipOctets(ip))),
  );
  const extensions = tlv(
    SEQUENCE,
    // cA FALSE is the default, so an empty SEQUENCE: an end-entity certificate.
    extension(OID.basicConstraints, false, tlv(SEQUENCE)),
    // digitalSignature is bit 0: one byte 0x80 with 7 unused bits (X.690 §11.2.2 drops trailing zeros).
    extension(OID.keyUsage, true, tlv(BIT_STRING, Buffer.from([0x07, 0x80]))),
    extension(OID.extKeyUsage, false, tlv(SEQUENCE, objectIdentifier(OID.serverAuth))),
    extension(OID.subjectAltName, false, altNames),
  );
  return tlv(
    SEQUENCE,
    tlv(contextConstructed(0), positiveInteger(Buffer.from([2]))), // version v3
    positiveInteger(f.serial),
    signatureAlgorithm(),
    name, // issuer
    tlv(SEQUENCE, time(f.notBefore), time(f.notAfter)),
    name, // subject
    Buffer.from(f.spki),
    tlv(contextConstructed(3), extensions),
  );
}

/** Certificate (RFC 5280 §4.1): the TBS bytes, the algorithm, the ECDSA-with-SHA-256 signature (DER). */
export function certificate(tbs: Uint8Array, signature: Uint8Array): Buffer {
  return tlv(SEQUENCE, tbs, signatureAlgorithm(), tlv(BIT_STRING, Buffer.from([0]), signature));
}

/** PEM armour of a DER certificate (RFC 7468 §5: base64 in lines of 64). */
export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
