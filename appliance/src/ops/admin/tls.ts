// TLS material of the off-loopback admin listener: the configured certificate and key, or a
// self-signed pair generated once and kept in admin.listener.tls.directory (so its fingerprint stays
// the same across restarts and the technician can pin it). The SHA-256 fingerprint is what the console,
// the log and `check` print: comparing it with the browser's certificate viewer is how a technician
// knows the page is the appliance's and not someone in between.
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { AdminConfig } from '../../config/admin.ts';
import { certificate, certificatePem, tbsCertificate } from '../../x509-der.ts';

type AdminListener = NonNullable<AdminConfig['listener']>;

export interface AdminTls {
  readonly cert: string;
  readonly key: string;
  /** "AB:CD:…", 32 pairs. */
  readonly fingerprint: string;
  readonly validTo: string;
  /** True when this start generated the pair. */
  readonly generated: boolean;
  readonly source: 'configured' | 'self-signed';
  readonly certPath: string;
}

/** Paths of a generated pair. */
export function generatedPaths(l: AdminListener): { cert: string; key: string } {
  return { cert: join(l.tls.directory, 'admin-cert.pem'), key: join(l.tls.directory, 'admin-key.pem') };
}

/** SHA-256 fingerprint of the first certificate in a PEM bundle. */
export function fingerprintOf(pem: string): { fingerprint: string; validTo: string } {
  const c = new X509Certificate(pem);
  return { fingerprint: c.fingerprint256, validTo: new Date(c.validTo).toISOString() };
}

/** What `check` prints: the fingerprint when the certificate exists, else where it will be made. */
export function describeAdminTls(l: AdminListener): string {
  const path = l.tls.cert ?? generatedPaths(l).cert;
  if (!existsSync(path))
    return `admin listener: a self-signed certificate will be generated in ${l.tls.directory} at first start`;
  try {
    const { fingerprint, validTo } = fingerprintOf(readFileSync(path, 'utf8'));
    return `admin listener https://${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}/ certificate SHA-256 ${fingerprint} (valid to ${validTo})`;
  } catch (err) {
    return `admin listener: cannot read certificate ${path}: ${(err as Error).message}`;
  }
}

/** Loads the configured pair, or the kept self-signed one, or generates and keeps a new one. */
export async function adminTls(
  l: AdminListener,
  names: readonly string[],
  now = new Date(),
): Promise<AdminTls> {
  if (l.tls.cert !== undefined && l.tls.key !== undefined) {
    const cert = await readFile(l.tls.cert, 'utf8');
    const key = await readFile(l.tls.key, 'utf8');
    return {
      cert,
      key,
      ...fingerprintOf(cert),
      generated: false,
      source: 'configured',
      certPath: l.tls.cert,
    };
  }
  const paths = generatedPaths(l);
  if (existsSync(paths.cert) && existsSync(paths.key)) {
    const cert = await readFile(paths.cert, 'utf8');
    const key = await readFile(paths.key, 'utf8');
    return {
      cert,
      key,
      ...fingerprintOf(cert),
      generated: false,
      source: 'self-signed',
      certPath: paths.cert,
    };
  }
  const pems = selfSigned(
    names,
    isIP(l.address) !== 0 && l.address !== '0.0.0.0' && l.address !== '::' ? [l.address] : [],
    now,
  );
  await mkdir(l.tls.directory, { recursive: true, mode: 0o700 });
  // Key first, each written to a temporary name and renamed, so a crash never leaves a cert without its key.
  await writeFile(`${paths.key}.tmp`, pems.private, { mode: 0o600 });
  await rename(`${paths.key}.tmp`, paths.key);
  await writeFile(`${paths.cert}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${paths.cert}.tmp`, paths.cert);
  return {
    cert: pems.cert,
    key: pems.private,
    ...fingerprintOf(pems.cert),
    generated: true,
    source: 'self-signed',
    certPath: paths.cert,
  };
}

/**
 * A new EC P-256 key and its self-signed end-entity certificate (ECDSA with SHA-256): CN the first
 * name, the names and the listener's own address as subjectAltName, serverAuth, valid from a minute
 * ago for 825 days (the longest a browser accepted for a server certificate, CA/B Forum).
 */
export function selfSigned(
  names: readonly string[],
  ips: readonly string[],
  now: Date,
): { cert: string; private: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive, and 16 octets long
  const tbs = tbsCertificate({
    serial,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 825 * 86_400_000),
    commonName: names[0] ?? 'relaykit',
    dnsNames: names,
    ipAddresses: ips,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  });
  return {
    cert: certificatePem(certificate(tbs, sign('sha256', tbs, privateKey))),
    private: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
