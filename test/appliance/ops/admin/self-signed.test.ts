// The admin page's self-signed certificate (ops/admin/tls.ts selfSigned over x509-der.ts), read back
// by three independent parsers: Node's X509Certificate, the openssl CLI, and a TLS client that
// checks the chain and the host name in a real handshake.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { adminTls, selfSigned } from '../../../../appliance/src/ops/admin/tls.ts';

const dir = mkdtempSync(join(tmpdir(), 'relaykit-self-signed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2026-12-03T15:58:03.456Z');
const pair = selfSigned(['relaykit-test.local', 'relay.example.net'], ['192.168.1.20', '2001:db8::1'], NOW);
const cert = new X509Certificate(pair.cert);

describe('the self-signed admin certificate', () => {
  it('names the host as subject and issuer, and every name and address as subjectAltName', () => {
    expect(cert.subject).toBe('CN=relaykit-test.local');
    expect(cert.issuer).toBe('CN=relaykit-test.local');
    expect(cert.subjectAltName).toBe(
      'DNS:relaykit-test.local, DNS:relay.example.net, IP Address:192.168.1.20, IP Address:2001:DB8:0:0:0:0:0:1',
    );
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // X509Certificate.keyUsage lists the extended key usage
    expect(cert.checkHost('relay.example.net')).toBe('relay.example.net');
    expect(cert.checkIP('192.168.1.20')).toBe('192.168.1.20');
  });

  it('is valid from a minute before now for 825 days, with a positive 16-octet serial', () => {
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-12-03T15:57:03.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2029-03-07T15:58:03.000Z');
    expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('carries the P-256 key it is signed with, and its signature verifies', () => {
    const key = createPrivateKey(pair.private);
    expect(pair.private.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(key.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(cert.verify(createPublicKey(key))).toBe(true);
    expect(cert.verify(createPublicKey(selfSigned(['other'], [], NOW).private))).toBe(false);
  });

  it('reads in openssl as an X.509 v3 server certificate that verifies against itself', () => {
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'cert.pem')], {
      encoding: 'utf8',
    });
    expect(text).toMatch(/Version: 3 \(0x2\)/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/Issuer: CN ?= ?relaykit-test\.local/);
    expect(text).toMatch(/Subject: CN ?= ?relaykit-test\.local/);
    expect(text).toMatch(/Not Before: Dec {2}3 15:57:03 2026 GMT/);
    expect(text).toMatch(/Not After : Mar {2}7 15:58:03 2029 GMT/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(text).toMatch(/X509v3 Basic Constraints: *\n\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(
      /X509v3 Subject Alternative Name: *\n\s+DNS:relaykit-test\.local, DNS:relay\.example\.net, IP Address:192\.168\.1\.20, IP Address:2001:DB8:0:0:0:0:0:1\n/,
    );
    // -attime: the certificate is valid in 2026-2029, whatever the machine's clock says.
    const verified = execFileSync(
      'openssl',
      [
        'verify',
        '-attime',
        String(Math.floor(NOW.getTime() / 1000)),
        '-CAfile',
        join(dir, 'cert.pem'),
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(verified.trim()).toBe(`${join(dir, 'cert.pem')}: OK`);
  });

  it('serves a TLS handshake that a client trusting it completes for its name', async () => {
    const live = selfSigned(['relaykit-test.local'], ['127.0.0.1'], new Date());
    const server = createServer({ cert: live.cert, key: live.private, minVersion: 'TLSv1.2' }, (s) =>
      s.end('hi'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const handshake = (servername: string) =>
      new Promise<{ authorized: boolean; error?: string; fingerprint?: string }>((resolve) => {
        const s: TLSSocket = connect(
          { host: '127.0.0.1', port, ca: live.cert, servername, rejectUnauthorized: false },
          () => {
            resolve({
              authorized: s.authorized,
              ...(s.authorizationError ? { error: String(s.authorizationError) } : {}),
              fingerprint: s.getPeerX509Certificate()?.fingerprint256 ?? '',
            });
            s.destroy();
          },
        );
      });
    try {
      const ok = await handshake('relaykit-test.local');
      expect(ok).toEqual({ authorized: true, fingerprint: new X509Certificate(live.cert).fingerprint256 });
      // The chain is trusted, and the client's host check reads the subjectAltName: another name fails it.
      expect(await handshake('other.example')).toMatchObject({
        authorized: false,
        error: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    } finally {
      server.close();
    }
  });

  it('adminTls generates the pair once (key 0600), keeps it, and reports its fingerprint and expiry', async () => {
    const listener = { address: '192.168.1.20', port: 8443, tls: { directory: join(dir, 'admin-tls') } };
    const first = await adminTls(listener as never, ['relaykit-test.local'], NOW);
    expect(first.generated).toBe(true);
    expect(first.source).toBe('self-signed');
    expect(first.validTo).toBe('2029-03-07T15:58:03.000Z');
    const onDisk = new X509Certificate(readFileSync(join(dir, 'admin-tls/admin-cert.pem')));
    expect(first.fingerprint).toBe(onDisk.fingerprint256);
    expect(onDisk.subjectAltName).toBe('DNS:relaykit-test.local, IP Address:192.168.1.20');
    expect(statSync(join(dir, 'admin-tls/admin-key.pem')).mode & 0o777).toBe(0o600);
    const again = await adminTls(listener as never, ['relaykit-test.local'], new Date());
    expect({ generated: again.generated, fingerprint: again.fingerprint }).toEqual({
      generated: false,
      fingerprint: first.fingerprint,
    });
  });
});
