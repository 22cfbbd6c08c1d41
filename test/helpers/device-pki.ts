// Device PKI for receiver tests (the smarthost client-certificate PKI is helpers/pki.ts). A throwaway test PKI made with the openssl CLI at test time (no private key is ever committed):
// "Device CA" signs the relay's server certificate and device certificates; "Evil CA" signs a rogue
// certificate with the same CN as a real device; plus a self-signed device and an expired one.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint as Node prints it (AB:CD:…). */
  readonly fingerprint: string;
}

export interface TestPki {
  readonly dir: string;
  /** Device CA certificate (PEM path): the bundle a listener trusts for client certificates. */
  readonly ca: string;
  readonly evilCa: string;
  /** relay.local.test, SAN DNS:relay.local.test, DNS:localhost, IP:127.0.0.1; signed by Device CA. */
  readonly server: CertFiles;
  /** CN printer-042, SAN DNS:printer-042.lan, EKU clientAuth; signed by Device CA. */
  readonly device: CertFiles;
  /** CN mfp-7, SAN email:mfp7@contoso.com; signed by Device CA. */
  readonly device2: CertFiles;
  /** CN printer-042 again, signed by Evil CA. */
  readonly rogue: CertFiles;
  /** CN printer-042, self-signed. */
  readonly selfSigned: CertFiles;
  /** CN printer-042, signed by Device CA, validity ended in 2020. */
  readonly expired: CertFiles;
  /** CN unknown-device, signed by Device CA, listed by no identity. */
  readonly unmapped: CertFiles;
  /** Makes another certificate signed by Device CA (for reload tests). */
  issue(name: string, cn: string, san: string): Promise<CertFiles>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await exec('openssl', args, { cwd });
}

async function fingerprint(cert: string, cwd: string): Promise<string> {
  const { stdout } = await exec('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], {
    cwd,
  });
  return (stdout.split('=')[1] ?? '').trim().toUpperCase();
}

async function key(dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.key`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

/** A self-signed certificate for key `k`, valid three days, with extra extensions. */
async function selfSign(
  dir: string,
  k: string,
  cn: string,
  cert: string,
  extensions: string[],
): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      k,
      '-sha256',
      '-days',
      '3',
      '-subj',
      `/CN=${cn}`,
      '-out',
      cert,
      ...extensions.flatMap((e) => ['-addext', e]),
    ],
    dir,
  );
}

async function ca(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const k = await key(dir, name);
  const cert = join(dir, `${name}.crt`);
  await selfSign(dir, k, cn, cert, [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key: k };
}

async function leaf(
  dir: string,
  name: string,
  cn: string,
  san: string,
  eku: string,
  signer: { cert: string; key: string } | 'self',
): Promise<CertFiles> {
  const k = await key(dir, name);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(
    ext,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\nsubjectAltName=${san}\n`,
  );
  if (signer === 'self') {
    await selfSign(dir, k, cn, cert, [`subjectAltName=${san}`, `extendedKeyUsage=${eku}`]);
  } else {
    const csr = join(dir, `${name}.csr`);
    await openssl(['req', '-new', '-key', k, '-subj', `/CN=${cn}`, '-out', csr], dir);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        signer.cert,
        '-CAkey',
        signer.key,
        '-set_serial',
        String(Math.floor(Math.random() * 1e12)),
        '-sha256',
        '-days',
        '3',
        '-extfile',
        ext,
        '-out',
        cert,
      ],
      dir,
    );
  }
  return { cert, key: k, fingerprint: await fingerprint(cert, dir) };
}

/** An expired certificate needs explicit dates, which only `openssl ca` sets on OpenSSL 3.0. */
async function expiredLeaf(dir: string, signer: { cert: string; key: string }): Promise<CertFiles> {
  const k = await key(dir, 'expired');
  const csr = join(dir, 'expired.csr');
  const cert = join(dir, 'expired.crt');
  await openssl(['req', '-new', '-key', k, '-subj', '/CN=printer-042', '-out', csr], dir);
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca=test',
      '[test]',
      `dir=${dir}`,
      'database=$dir/index.txt',
      'serial=$dir/serial',
      'new_certs_dir=$dir',
      'default_md=sha256',
      'policy=any',
      'unique_subject=no',
      'copy_extensions=none',
      'x509_extensions=ext',
      '[any]',
      'commonName=supplied',
      '[ext]',
      'basicConstraints=CA:FALSE',
      'extendedKeyUsage=clientAuth',
      'subjectAltName=DNS:printer-042.lan',
      '',
    ].join('\n'),
  );
  await openssl(
    [
      'ca',
      '-batch',
      '-config',
      join(dir, 'ca.cnf'),
      '-cert',
      signer.cert,
      '-keyfile',
      signer.key,
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-in',
      csr,
      '-out',
      cert,
      '-notext',
    ],
    dir,
  );
  return { cert, key: k, fingerprint: await fingerprint(cert, dir) };
}

export async function createTestPki(dir: string): Promise<TestPki> {
  const deviceCa = await ca(dir, 'device-ca', 'Device CA');
  const evil = await ca(dir, 'evil-ca', 'Evil CA');
  const [server, device, device2, rogue, selfSigned, unmapped, expired] = await Promise.all([
    leaf(
      dir,
      'server',
      'relay.local.test',
      'DNS:relay.local.test,DNS:localhost,IP:127.0.0.1',
      'serverAuth',
      deviceCa,
    ),
    leaf(dir, 'device', 'printer-042', 'DNS:printer-042.lan', 'clientAuth', deviceCa),
    leaf(dir, 'device2', 'mfp-7', 'email:mfp7@contoso.com', 'clientAuth', deviceCa),
    leaf(dir, 'rogue', 'printer-042', 'DNS:printer-042.lan', 'clientAuth', evil),
    leaf(dir, 'self', 'printer-042', 'DNS:printer-042.lan', 'clientAuth', 'self'),
    leaf(dir, 'unmapped', 'unknown-device', 'DNS:unknown.lan', 'clientAuth', deviceCa),
    expiredLeaf(dir, deviceCa),
  ]);
  return {
    dir,
    ca: deviceCa.cert,
    evilCa: evil.cert,
    server,
    device,
    device2,
    rogue,
    selfSigned,
    expired,
    unmapped,
    issue: (name, cn, san) => leaf(dir, name, cn, san, 'serverAuth', deviceCa),
  };
}

export async function pem(path: string): Promise<Buffer> {
  return readFile(path);
}
