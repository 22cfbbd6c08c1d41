// `check --online` proves each route against the simulators without sending mail: a Graph token from
// the Entra simulator (wrong secret → 401 invalid_client), an authenticated harmless ACS call (wrong
// key → 401), and SMTP connect + EHLO + STARTTLS + AUTH against a real smtp-server (wrong password →
// 535). Nothing is delivered in any case.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { main } from '../../../appliance/src/main.ts';
import { baseConfigInput, removeDir, tempDir } from '../../helpers/appliance.ts';
import { captureIo } from '../../helpers/io.ts';
import { createTestPki, type TestPki } from '../../helpers/pki.ts';
import { AcsSimulator } from '../../helpers/sim/acs.ts';
import { CLIENT, type Harness, SECRET, startHarness, TENANT } from '../../helpers/sim/graph-harness.ts';
import { testPki } from '../../helpers/sim/pki.ts';
import { SmtpSink } from '../../helpers/sim/smtp-sink.ts';

let dir: string;
let h: Harness;
let acs: AcsSimulator;
let sink: SmtpSink;
let pki: TestPki;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('relaykit-online-');
  pki = createTestPki();
  h = await startHarness();
  acs = new AcsSimulator({ senders: ['DoNotReply@contoso.com'] });
  await acs.start();
  sink = new SmtpSink({
    tls: 'starttls',
    key: pki.server.key,
    cert: pki.server.cert,
    users: { relay: 'smtp-pass' },
  });
  await sink.start();
});
afterAll(async () => {
  await sink.close();
  await acs.close();
  await h.close();
  await removeDir(dir);
});

function secret(value: string): { file: string } {
  const p = join(dir, `secret-${++n}.txt`);
  writeFileSync(p, `${value}\n`);
  return { file: p };
}

async function online(routes: unknown[], credentials: Record<string, { file: string }>) {
  const path = join(dir, `online-${++n}.yaml`);
  const base = baseConfigInput(join(dir, `case-${n}`));
  const config: ConfigInput = {
    ...base,
    routes: [...(base.routes ?? []), ...(routes as ConfigInput['routes'])],
    credentials,
    cloud: {
      authorityHost: h.entra.url,
      graphBaseUrl: h.graph.baseUrl,
      caFile: testPki().caFile,
      requestTimeout: '5s',
    },
  };
  writeFileSync(path, stringify(config));
  const io = captureIo();
  const code = await main(['check', '--online', '--config', path], io);
  return { code, out: io.out(), err: io.err() };
}

const graph = {
  name: 'm365',
  type: 'graph',
  tenantId: TENANT,
  clientId: CLIENT,
  clientSecret: 'graph-secret',
};
const acsRoute = {
  name: 'acs',
  type: 'acs',
  auth: { type: 'accessKey', connectionString: 'acs-key' },
  senderAddress: 'DoNotReply@contoso.com',
};
const smtp = (port: number) => ({
  name: 'smarthost',
  type: 'smtp',
  host: '127.0.0.1',
  port,
  tls: { mode: 'starttls', ca: pki.caPath },
  auth: { type: 'password', username: 'relay', password: 'smtp-pass' },
});

describe('check --online', () => {
  it('proves a good Graph, ACS and SMTP route, one line each, and sends nothing', async () => {
    const r = await online([graph, acsRoute, smtp(sink.port)], {
      'graph-secret': secret(SECRET),
      'acs-key': secret(acs.connectionString),
      'smtp-pass': secret('smtp-pass'),
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/online: routes\[1\] \(m365, graph\): Graph token for app .* token issued/);
    expect(r.out).toMatch(
      /online: routes\[2\] \(acs, acs\): authenticated at 127\.0\.0\.1:\d+ \(GET of an unknown operation answered 404\)/,
    );
    expect(r.out).toMatch(
      /online: routes\[3\] \(smarthost, smtp\): 127\.0\.0\.1:\d+: connected, EHLO, STARTTLS, AUTH accepted/,
    );
    expect(r.out).toMatch(/^ok: /m);
    expect(h.graph.delivered).toHaveLength(0);
    expect(acs.sent).toHaveLength(0);
    expect(sink.messages).toHaveLength(0);
    expect(sink.authAttempts.at(-1)).toMatchObject({ user: 'relay', ok: true });
  });

  it('names the route, code and hint for a wrong Graph secret, ACS key and SMTP password', async () => {
    const wrongKey = `endpoint=${acs.endpoint}/;accessKey=${Buffer.from('wrong').toString('base64')}`;
    const r = await online([graph, acsRoute, smtp(sink.port)], {
      'graph-secret': secret('not-the-secret'),
      'acs-key': secret(wrongKey),
      'smtp-pass': secret('wrong-pass'),
    });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/routes\[1\] \(m365, graph\) failed online: RELAY_TOKEN_FAILED: .*invalid_client/);
    expect(r.err).toMatch(
      /routes\[2\] \(acs, acs\) failed online: RELAY_ACS_AUTH_FAILED: 127\.0\.0\.1:\d+ answered 401\n {2}hint: .*access key/,
    );
    expect(r.err).toMatch(/routes\[3\] \(smarthost, smtp\) failed online: RELAY_SMTP_AUTH_FAILED: .*535/);
    expect(r.err).not.toMatch(/not-the-secret|wrong-pass/);
    expect(r.out).not.toMatch(/^ok: /m);
  });
});
