// Benchmarks of the ACS and SMTP transports against the test simulators on loopback. Not a test:
// returns figures for run.ts (`npm run bench transports`).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { routeSchema } from '../../appliance/src/config/schema.ts';
import { type AcsRouteConfig, AcsTransport } from '../../appliance/src/delivery/acs/acs-transport.ts';
import type { SmtpRouteConfig } from '../../appliance/src/delivery/smtp/smtp-presets.ts';
import { SmtpTransport } from '../../appliance/src/delivery/smtp/smtp-transport.ts';
import { createTestPki } from '../helpers/pki.ts';
import { AcsSimulator } from '../helpers/sim/acs.ts';
import { SmtpSink } from '../helpers/sim/smtp-sink.ts';
import { credentialFiles, deps, job, messageFile, tempDir } from '../helpers/transport-job.ts';
import { shippedNodeOptions } from './node-options.ts';

const run = promisify(execFile);

function scanMessage(attachmentBytes: number): Buffer {
  const b64 = randomBytes(attachmentBytes).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    'From: "MFP" <scanner@contoso.com>\r\nTo: alice@fabrikam.com\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      'Scanned document attached.\r\n--b\r\nContent-Type: application/pdf; name=scan.pdf\r\n' +
      `Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=scan.pdf\r\n\r\n${b64}\r\n--b--\r\n`,
  );
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** One conversion in a child process with the given NODE_OPTIONS (acs-rss-child.ts). */
async function convertInChild(file: string, nodeOptions: string) {
  const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'acs-rss-child.ts'), file], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    grewBytes: number;
    peakBytes: number;
    bodyBytes: number;
    ms: number;
  };
}

async function benchConversion(): Promise<string[]> {
  const raw = scanMessage(7 * 1024 * 1024);
  const file = join(tempDir(), 'scan.eml');
  writeFileSync(file, raw);
  const lines: string[] = [];
  for (const [label, flags] of [
    ['shipped heap flags', shippedNodeOptions()],
    ["Node's default heap", ''],
  ] as const) {
    const r = await convertInChild(file, flags);
    lines.push(
      `MIME → ACS JSON, streamed (${label}${flags ? `: ${flags}` : ''}): ${mb(raw.length)} message (7 MB attachment) → ` +
        `${mb(r.bodyBytes)} JSON body in ${r.ms.toFixed(0)} ms; RSS grew ${mb(r.grewBytes)} (peak ${mb(r.peakBytes)}; target ≤ 32 MB)`,
    );
  }
  return lines;
}

async function benchAcs(): Promise<string[]> {
  const lines: string[] = [];
  const sim = new AcsSimulator({
    senders: ['DoNotReply@contoso.com'],
    sendPerMinute: 1e6,
    sendPerHour: 1e6,
    statusPerMinute: 1e6,
    statusPerHour: 1e6,
  });
  await sim.start();
  const dir = tempDir();
  const creds = credentialFiles(dir, { k: sim.connectionString });
  const route = routeSchema.parse({
    name: 'acs',
    type: 'acs',
    auth: { type: 'accessKey', connectionString: 'k' },
    senderAddress: 'DoNotReply@contoso.com',
    pollInterval: '1ms',
  }) as AcsRouteConfig;
  const t = new AcsTransport(route, deps({ credentials: creds.store }));
  const msg = messageFile(dir, scanMessage(100 * 1024));
  const n = 300;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < n / 4; i++) await t.deliver(job(msg));
    }),
  );
  const s = (performance.now() - t0) / 1000;
  lines.push(
    `ACS REST (simulator, 4 in flight): ${n} messages of 100 KB in ${s.toFixed(2)} s = ${(n / s).toFixed(0)} msg/s (send + 1 poll each)`,
  );
  const rcpts = Array.from({ length: 500 }, (_, i) => `u${i}@fabrikam.com`);
  const t1 = performance.now();
  await t.deliver(job(msg, { recipients: rcpts }));
  lines.push(
    `ACS REST: one leg of 500 recipients → ${sim.sent.length - n} operations in ${(performance.now() - t1).toFixed(0)} ms`,
  );
  await sim.close();
  return lines;
}

async function benchSmtp(): Promise<string[]> {
  const lines: string[] = [];
  const pki = createTestPki();
  const sink = new SmtpSink({
    tls: 'starttls',
    key: pki.server.key,
    cert: pki.server.cert,
    users: { relay: 'pw' },
  });
  const port = await sink.start();
  const dir = tempDir();
  const creds = credentialFiles(dir, { p: 'pw' });
  const route = routeSchema.parse({
    name: 'smarthost',
    type: 'smtp',
    host: '127.0.0.1',
    port,
    tls: { mode: 'starttls', ca: pki.caPath },
    auth: { type: 'password', username: 'relay', password: 'p' },
  }) as SmtpRouteConfig;
  const t = new SmtpTransport(route, deps({ credentials: creds.store }));
  const msg = messageFile(dir, scanMessage(20 * 1024));
  for (const inFlight of [1, 4]) {
    const n = 200;
    const before = sink.messages.length;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        for (let i = 0; i < n / inFlight; i++) await t.deliver(job(msg));
      }),
    );
    const s = (performance.now() - t0) / 1000;
    lines.push(
      `SMTP smarthost (smtp-server sink, STARTTLS + AUTH PLAIN, connection per message, ${inFlight} in flight): ` +
        `${sink.messages.length - before} messages of 20 KB in ${s.toFixed(2)} s = ${(n / s).toFixed(0)} msg/s`,
    );
  }
  await sink.close();
  return lines;
}

export async function benchTransports(): Promise<string[]> {
  return [...(await benchConversion()), ...(await benchAcs()), ...(await benchSmtp())];
}
