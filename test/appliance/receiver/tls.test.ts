// TLS policy per listener and client-certificate identities, against a PKI generated in the test.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { createLogger } from '../../../appliance/src/log.ts';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import {
  captured,
  removeDir,
  startTestAppliance,
  type TestAppliance,
  tempDir,
  waitFor,
} from '../../helpers/appliance.ts';
import { type CertFiles, createTestPki, type TestPki } from '../../helpers/device-pki.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';
import { requireTool, run } from '../../helpers/tools.ts';

/**
 * TLS 1.2 suites with forward secrecy and AEAD: the Mozilla Server Side TLS "intermediate" list
 * (ssl-config.mozilla.org, guidelines 5.7), written here rather than read from the relay's own list.
 */
const MOZILLA_INTERMEDIATE_TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
];

let pkiDir: string;
let pki: TestPki;
let passwordHash: string;
let dir: string;
let t: TestAppliance | undefined;
let logLines: string[] = [];

beforeAll(async () => {
  pkiDir = await tempDir('relaykit-pki-');
  pki = await createTestPki(pkiDir);
  passwordHash = await hashPassword('app-password-1', { N: 1024 });
});
afterAll(async () => {
  await removeDir(pkiDir);
});
afterEach(async () => {
  await t?.stop();
  t = undefined;
  await removeDir(dir);
});

const TLS10 = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
const TLS11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

/** Listeners in order: 0 starttls + optional client certs, 1 legacy TLS 1.0, 2 implicit mutual TLS. */
async function start(patch: (c: ConfigInput) => ConfigInput = (c) => c): Promise<TestAppliance> {
  dir = await tempDir();
  logLines = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const tls = { cert: pki.server.cert, key: pki.server.key };
  return startTestAppliance(
    dir,
    (c) =>
      patch({
        ...c,
        listeners: [
          { name: 'lan', port: 0, tls: { mode: 'starttls', ...tls, clientCertificates: { ca: pki.ca } } },
          { name: 'legacy', port: 0, tls: { mode: 'starttls', ...tls, minVersion: 'TLSv1' } },
          {
            name: 'mtls',
            port: 0,
            tls: { mode: 'implicit', ...tls, clientCertificates: { ca: pki.ca, required: true } },
          },
        ],
        identities: [
          {
            name: 'printers',
            certificates: [{ subject: 'printer-042' }],
            allowedRecipientDomains: ['contoso.com'],
          },
          {
            name: 'mfp',
            certificates: [{ san: 'email:mfp7@contoso.com', fingerprint: pki.device2.fingerprint }],
          },
          { name: 'app', users: [{ username: 'app', passwordHash }] },
        ],
      }),
    { logger: createLogger({ level: 'info', destination }) },
  );
}

function port(i: number): number {
  const l = t?.app.listeners[i];
  if (!l) throw new Error(`no listener ${i}`);
  return l.port;
}

async function greeted(p: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(p);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO device.lan')).code).toBe(250);
  return c;
}

async function withCert(p: number, cert: CertFiles) {
  const c = await greeted(p);
  const { reply, socket } = await c.startTls({
    cert: await readFile(cert.cert),
    key: await readFile(cert.key),
    servername: 'relay.local.test',
  });
  expect(reply.code).toBe(220);
  return { c, socket };
}

async function sendOne(c: RawSmtp, from: string, to: string, subject: string): Promise<number> {
  expect((await c.command(`MAIL FROM:<${from}>`)).code).toBe(250);
  expect((await c.command(`RCPT TO:<${to}>`)).code).toBe(250);
  expect((await c.command('DATA')).code).toBe(354);
  return (await c.command(`Subject: ${subject}\r\n\r\nbody\r\n.`)).code;
}

describe('TLS policy', () => {
  it('never offers or accepts AUTH before STARTTLS (530 5.7.0), offers it after', async () => {
    t = await start();
    const c = await greeted(port(0));
    const ehlo = await c.command('EHLO device.lan');
    expect(ehlo.text).toMatch(/STARTTLS/);
    expect(ehlo.text).not.toMatch(/AUTH/);
    const auth = await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`);
    expect(auth.code).toBe(530);
    expect(auth.text).toContain('5.7.0 Must issue a STARTTLS command first');
    expect((await c.command('MAIL FROM:<a@contoso.com>')).code).toBe(530);
    await c.startTls({ servername: 'relay.local.test' });
    const after = await c.command('EHLO device.lan');
    expect(after.text).toMatch(/AUTH PLAIN LOGIN/);
    expect(after.text).not.toMatch(/STARTTLS/);
    expect(
      (await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`)).code,
    ).toBe(235);
    expect(await sendOne(c, 'app@contoso.com', 'x@fabrikam.com', 'after tls')).toBe(250);
    c.close();
    expect(await t.app.metrics.get('relaykit_rejected_total', { reason: 'RELAY_TLS_REQUIRED' })).toBe(1);
  });

  it('forgets a cleartext login at STARTTLS (RFC 3207 §4.2): the client must log in again', async () => {
    t = await start((c) => ({
      ...c,
      listeners: [
        {
          name: 'mgmt',
          port: 0,
          tls: { mode: 'starttls', cert: pki.server.cert, key: pki.server.key },
          allowCleartextAuth: true,
        },
      ],
    }));
    const c = await greeted(port(0));
    const ehlo = await c.command('EHLO admin.lan');
    expect(ehlo.text).toMatch(/AUTH PLAIN LOGIN/);
    expect(
      (await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`)).code,
    ).toBe(235);
    await c.startTls({ servername: 'relay.local.test' });
    await c.command('EHLO admin.lan');
    expect((await c.command('MAIL FROM:<a@contoso.com>')).code).toBe(530);
    c.close();
  });

  it('refuses TLS 1.0 and 1.1 clients by default and negotiates TLS 1.2+ with a modern cipher', async () => {
    t = await start();
    for (const legacy of [TLS10, TLS11]) {
      const c = await greeted(port(0));
      await expect(c.startTls(legacy)).rejects.toThrow();
      c.close();
    }
    const c = await greeted(port(0));
    const { socket } = await c.startTls({ maxVersion: 'TLSv1.2' });
    expect(socket?.getProtocol()).toBe('TLSv1.2');
    expect(MOZILLA_INTERMEDIATE_TLS12).toContain(socket?.getCipher().name);
    c.close();
  });

  it('accepts TLS 1.0 and 1.1 on the opted-in legacy listener, and warns at start naming it', async () => {
    t = await start();
    const warnings = logLines.filter((l) => l.includes('"level":"warn"') && l.includes('legacy TLS'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string)).toMatchObject({ listener: 'legacy', minVersion: 'TLSv1' });
    for (const [opts, proto] of [
      [TLS10, 'TLSv1'],
      [TLS11, 'TLSv1.1'],
    ] as const) {
      const c = await greeted(port(1));
      const { socket } = await c.startTls(opts);
      expect(socket?.getProtocol()).toBe(proto);
      await c.command('EHLO old-printer.lan');
      expect(
        (await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`)).code,
      ).toBe(235);
      expect(await sendOne(c, 'app@contoso.com', 'x@contoso.com', `legacy ${proto}`)).toBe(250);
      c.close();
    }
    // A modern client on the legacy listener still gets TLS 1.3, or TLS 1.2 with an AEAD suite.
    const modern = await greeted(port(1));
    const { socket } = await modern.startTls({ maxVersion: 'TLSv1.2' });
    expect(socket?.getProtocol()).toBe('TLSv1.2');
    expect(MOZILLA_INTERMEDIATE_TLS12).toContain(socket?.getCipher().name);
    modern.close();
    const files = await waitFor(async () => {
      const f = await captured(join(dir, 'outbox'));
      return f.length === 2 ? f : undefined;
    });
    expect(files.map((f) => /\(using (TLSv1(?:\.1)?) with cipher /.exec(f.text)?.[1]).sort()).toEqual([
      'TLSv1',
      'TLSv1.1',
    ]);
  });

  it('reloads the server certificate when the file changes and on SIGHUP, without a restart', async () => {
    const certPath = join(pkiDir, 'reload.crt');
    const keyPath = join(pkiDir, 'reload.key');
    await writeFile(certPath, await readFile(pki.server.cert));
    await writeFile(keyPath, await readFile(pki.server.key));
    t = await start((c) => ({
      ...c,
      listeners: [{ name: 'lan', port: 0, tls: { mode: 'implicit', cert: certPath, key: keyPath } }],
    }));
    const cn = async () => {
      const c = await RawSmtp.connectTls(port(0));
      const name = c.tlsSocket?.getPeerCertificate().subject.CN;
      c.close();
      return name;
    };
    expect(await cn()).toBe('relay.local.test');
    const next = await pki.issue('relay2', 'relay2.local.test', 'DNS:relay2.local.test');
    // Key first, then certificate, the way renewal tools write them.
    await writeFile(keyPath, await readFile(next.key));
    await writeFile(certPath, await readFile(next.cert));
    expect(await waitFor(async () => ((await cn()) === 'relay2.local.test' ? true : undefined), 5000)).toBe(
      true,
    );
    // SIGHUP path: put the first certificate back and signal.
    await writeFile(keyPath, await readFile(pki.server.key));
    await writeFile(certPath, await readFile(pki.server.cert));
    process.emit('SIGHUP', 'SIGHUP');
    expect(await waitFor(async () => ((await cn()) === 'relay.local.test' ? true : undefined), 5000)).toBe(
      true,
    );
    expect(logLines.some((l) => l.includes('certificate and key reloaded') && l.includes('SIGHUP'))).toBe(
      true,
    );
  });
});

describe('client-certificate identities', () => {
  it('a verified device certificate is the identity: no AUTH offered, no password, its policy applies', async () => {
    t = await start();
    const { c, socket } = await withCert(port(0), pki.device);
    expect(socket?.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    const ehlo = await c.command('EHLO printer-042.lan');
    expect(ehlo.text).not.toMatch(/AUTH/);
    expect(await sendOne(c, 'printer@contoso.com', 'finance@contoso.com', 'cert scan')).toBe(250);
    // The printers identity may only send to contoso.com: proves the certificate chose the identity.
    expect((await c.command('MAIL FROM:<printer@contoso.com>')).code).toBe(250);
    const foreign = await c.command('RCPT TO:<victim@gmail.com>');
    expect(foreign.code).toBe(550);
    expect(foreign.text).toContain('5.7.1');
    // A certificate session cannot switch identity by AUTH.
    expect(
      (await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`)).code,
    ).toBe(503);
    c.close();
    const accepted = logLines.find((l) => l.includes('client certificate accepted'));
    expect(JSON.parse(accepted as string)).toMatchObject({ identity: 'printers', subject: 'printer-042' });
    const files = await waitFor(async () => {
      const f = await captured(join(dir, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    expect(files[0]?.text).toMatch(/with ESMTPSA id/);
  });

  it('matches by subjectAltName and SHA-256 fingerprint', async () => {
    t = await start();
    const { c } = await withCert(port(0), pki.device2);
    await c.command('EHLO mfp-7.lan');
    expect(await sendOne(c, 'mfp7@contoso.com', 'x@fabrikam.com', 'san match')).toBe(250);
    c.close();
    const accepted = logLines.find((l) => l.includes('client certificate accepted'));
    expect(JSON.parse(accepted as string)).toMatchObject({
      identity: 'mfp',
      fingerprint: pki.device2.fingerprint,
    });
  });

  it.each([
    [
      'rogue (same CN, Evil CA)',
      'rogue',
      /5\.7\.1 Client certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    ],
    ['self-signed', 'selfSigned', /5\.7\.1 Client certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/],
    ['expired', 'expired', /5\.7\.1 Client certificate not trusted \(CERT_HAS_EXPIRED\)/],
    ['valid but unmapped', 'unmapped', /5\.7\.1 Client certificate is valid but matches no identity/],
  ] as const)('refuses a %s certificate with 554 and closes (STARTTLS)', async (_n, which, text) => {
    t = await start();
    const { c } = await withCert(port(0), pki[which]);
    const r = await c.reply();
    expect(r.code).toBe(554);
    expect(r.text).toMatch(text);
    expect(await c.waitClosed()).toBe(true);
    expect(await t.app.metrics.get('relaykit_rejected_total', { reason: 'RELAY_CERT_REJECTED' })).toBe(1);
    const line = logLines.find((l) => l.includes('"code":"RELAY_CERT_REJECTED"'));
    expect(JSON.parse(line as string)).toMatchObject({
      listener: 'lan',
      ip: '127.0.0.1',
      rule: 'listeners.lan.tls.clientCertificates',
    });
  });

  it('without a certificate, the optional listener still takes a password after STARTTLS', async () => {
    t = await start();
    const c = await greeted(port(0));
    await c.startTls({ servername: 'relay.local.test' });
    await c.command('EHLO app.lan');
    expect((await c.command('MAIL FROM:<a@contoso.com>')).code).toBe(530);
    expect(
      (await c.command(`AUTH PLAIN ${Buffer.from('\0app\0app-password-1').toString('base64')}`)).code,
    ).toBe(235);
    expect(await sendOne(c, 'app@contoso.com', 'x@fabrikam.com', 'pw')).toBe(250);
    c.close();
  });

  it('implicit TLS with required certificates: valid device sends; no certificate or a rogue one gets 554', async () => {
    t = await start();
    const good = await RawSmtp.connectTls(port(2), {
      cert: await readFile(pki.device.cert),
      key: await readFile(pki.device.key),
    });
    expect((await good.reply()).code).toBe(220);
    const ehlo = await good.command('EHLO printer-042.lan');
    expect(ehlo.text).not.toMatch(/AUTH/);
    expect(await sendOne(good, 'p@contoso.com', 'f@contoso.com', 'mtls')).toBe(250);
    good.close();
    const none = await RawSmtp.connectTls(port(2));
    const r1 = await none.reply();
    expect(r1.code).toBe(554);
    expect(r1.text).toContain('A client certificate is required');
    const rogue = await RawSmtp.connectTls(port(2), {
      cert: await readFile(pki.rogue.cert),
      key: await readFile(pki.rogue.key),
    });
    const r2 = await rogue.reply();
    expect(r2.code).toBe(554);
    expect(r2.text).toContain('not trusted');
  });

  it('swaks with --tls-cert/--tls-key is accepted as the device, with no password', async (ctx) => {
    const swaks = requireTool(ctx, 'swaks', ['TLS']);
    t = await start();
    const r = await run(swaks, [
      '--server',
      `127.0.0.1:${port(0)}`,
      '--tls',
      '--tls-cert',
      pki.device.cert,
      '--tls-key',
      pki.device.key,
      '--tls-ca-path',
      pki.ca,
      '--tls-verify',
      '--tls-sni',
      'relay.local.test',
      '--ehlo',
      'printer-042.lan',
      '--from',
      'printer@contoso.com',
      '--to',
      'finance@contoso.com',
      '--header',
      'Subject: swaks client cert',
    ]);
    expect(r.stdout + r.stderr).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as [0-9a-z-]+/);
    expect(r.code).toBe(0);
    const files = await waitFor(async () => {
      const f = await captured(join(dir, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    expect(files[0]?.text).toContain('Subject: swaks client cert');
    expect(
      logLines.some((l) => l.includes('client certificate accepted') && l.includes('"identity":"printers"')),
    ).toBe(true);
  });
});
