// A throwaway test PKI made with the openssl CLI at test time: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate (an appliance presenting itself to an Exchange
// certificate connector), plus certificates that must fail verification (self-signed, wrong name,
// signed by another CA). P-256 keys keep it fast.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** cert + key in one PEM file, as a credential holds them. */
  readonly bundlePath: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caPath: string;
  /** SAN IP:127.0.0.1, DNS:localhost; signed by the CA. */
  readonly server: CertPair;
  /** CN relay.contoso.com, clientAuth; signed by the CA. */
  readonly client: CertPair;
  /** CN relay.contoso.com, clientAuth; signed by a CA nobody trusts. */
  readonly rogueClient: CertPair;
  /** Self-signed, SAN IP:127.0.0.1. */
  readonly selfSigned: CertPair;
  /** Signed by the CA, but only for DNS:other.example. */
  readonly wrongName: CertPair;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** openssl arguments for a new P-256 key written to `<name>.key`. */
function newEcKey(name: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`];
}

function newKeyCsr(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-new', ...newEcKey(name), '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

function sign(dir: string, name: string, ca: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
  ]);
}

/** A self-signed certificate `<name>.crt` with a new key, valid two days, with extra extensions. */
function selfSigned(dir: string, name: string, cn: string, extensions: string[]): void {
  openssl(dir, [
    'req',
    '-x509',
    ...newEcKey(name),
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
}

function newCa(dir: string, name: string, cn: string): void {
  selfSigned(dir, name, cn, ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function pair(dir: string, name: string): CertPair {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  const bundlePath = join(dir, `${name}.pem`);
  writeFileSync(bundlePath, `${cert}${key}`, { mode: 0o600 });
  return { cert, key, certPath, keyPath, bundlePath };
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'relaykit-pki-'));
  newCa(dir, 'ca', 'relaykit test CA');
  newCa(dir, 'evil-ca', 'relaykit evil CA');

  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const clientExt = 'subjectAltName=DNS:relay.contoso.com\nextendedKeyUsage=clientAuth\n';
  newKeyCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'ca', serverExt);
  newKeyCsr(dir, 'client', 'relay.contoso.com');
  sign(dir, 'client', 'ca', clientExt);
  newKeyCsr(dir, 'rogue-client', 'relay.contoso.com');
  sign(dir, 'rogue-client', 'evil-ca', clientExt);
  newKeyCsr(dir, 'wrong-name', 'other.example');
  sign(dir, 'wrong-name', 'ca', 'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n');
  selfSigned(dir, 'self-signed', 'localhost', ['subjectAltName=IP:127.0.0.1,DNS:localhost']);

  return {
    dir,
    caCert: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    caPath: join(dir, 'ca.crt'),
    server: pair(dir, 'server'),
    client: pair(dir, 'client'),
    rogueClient: pair(dir, 'rogue-client'),
    selfSigned: pair(dir, 'self-signed'),
    wrongName: pair(dir, 'wrong-name'),
  };
}
