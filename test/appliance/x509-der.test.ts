// The DER pieces of the admin page's self-signed certificate (appliance/src/x509-der.ts), against the
// encodings the standards print: X.690 (lengths, OIDs, INTEGER, BIT STRING) and RFC 5280 (times,
// iPAddress, the extensions). The whole certificate is checked by Node and openssl in
// test/appliance/ops/admin/self-signed.test.ts.
import { describe, expect, it } from 'vitest';
import { ipOctets, objectIdentifier, positiveInteger, time, tlv } from '../../appliance/src/x509-der.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('DER encoding (X.690)', () => {
  it('writes short and long definite lengths (§8.1.3)', () => {
    expect(hex(tlv(0x04, Buffer.alloc(3)))).toBe('0403000000');
    expect(hex(tlv(0x04, Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(tlv(0x04, Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(0x04, Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
    expect(hex(tlv(0x30))).toBe('3000');
  });

  it('encodes object identifiers in base 128 (§8.19)', () => {
    // X.690 §8.19.5's example {2 999 3} and well-known encodings of RFC 5280/5758 identifiers.
    expect(hex(objectIdentifier('2.999.3'))).toBe('0603883703');
    expect(hex(objectIdentifier('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(objectIdentifier('2.5.29.17'))).toBe('0603551d11');
    expect(hex(objectIdentifier('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
  });

  it('writes a positive INTEGER minimally, with a leading zero when its top bit is set (§8.3)', () => {
    expect(hex(positiveInteger(Buffer.from([2])))).toBe('020102');
    expect(hex(positiveInteger(Buffer.from([0x80])))).toBe('02020080');
    expect(hex(positiveInteger(Buffer.from([0, 0, 0x7f])))).toBe('02017f');
  });
});

describe('certificate fields (RFC 5280)', () => {
  it('UTCTime through 2049, GeneralizedTime from 2050, in whole seconds (§4.1.2.5)', () => {
    expect(time(new Date('2026-12-03T15:58:03.456Z')).toString('latin1')).toBe('\x17\x0d261203155803Z');
    expect(time(new Date('2049-12-31T23:59:59Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
  });

  it('iPAddress holds 4 octets for IPv4, 16 for IPv6 (§4.2.1.6)', () => {
    expect(hex(ipOctets('192.168.1.20'))).toBe('c0a80114');
    expect(hex(ipOctets('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(ipOctets('fe80::1:2'))).toBe('fe800000000000000000000000010002');
    expect(hex(ipOctets('::ffff:10.0.2.15'))).toBe('00000000000000000000ffff0a00020f');
    expect(hex(ipOctets('::'))).toBe('00000000000000000000000000000000');
    expect(() => ipOctets('relaykit.local')).toThrow(/not an IP address/);
  });
});
