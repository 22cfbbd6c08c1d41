// Test PKI made at test time with the openssl CLI: a CA, a server certificate for 127.0.0.1,
// *.vault.azure.net (the Key Vault simulator on a loopback name, sim/loopback-names.ts) and
// localhost signed by it (simulators serve HTTPS with it; clients trust the CA through config
// `cloud.caFile`), and self-signed client certificates for app identities. Keys live in a temp
// directory only; nothing here is ever committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A new self-signed certificate + key for an app registration, as one PEM bundle. */
  clientCertificate(cn: string): { readonly pem: string; readonly certPem: string; readonly file: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

let cached: TestPki | undefined;

export function testPki(): TestPki {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'relaykit-pki-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=relaykit test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.vault.azure.net\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  let n = 0;
  cached = {
    dir,
    caFile: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    serverCert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    serverKey: readFileSync(join(dir, 'server.key'), 'utf8'),
    clientCertificate(cn) {
      n += 1;
      const base = `client-${n}`;
      openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.crt`,
          '-days',
          '2',
          '-subj',
          `/CN=${cn}`,
        ],
        dir,
      );
      const certPem = readFileSync(join(dir, `${base}.crt`), 'utf8');
      const pem = certPem + readFileSync(join(dir, `${base}.key`), 'utf8');
      const file = join(dir, `${base}.pem`);
      writeFileSync(file, pem, { mode: 0o600 });
      return { pem, certPem, file };
    },
  };
  return cached;
}
