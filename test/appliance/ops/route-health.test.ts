// Routes whose credentials or permissions are wrong, end to end: SMTP in (nodemailer), the Graph and
// ACS simulators refuse (Entra 401 invalid_client for a wrong secret, Graph 403 ErrorAccessDenied
// without Mail.Send, ACS 401 for a wrong key, ACS 403 for a principal without a role). Each time the
// route turns `failing` in /status with the reason and a hint, exactly one route-state log line is
// printed, exactly one alert goes out (webhook and mail through the notice route), and the mail stays
// queued (nothing is dead-lettered while the operator fixes config).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import type { HealthSnapshot } from '../../../appliance/src/ops/health.ts';
import { RouteStateTracker } from '../../../appliance/src/ops/route-state.ts';
import { applianceSandbox, sendMail, type TestAppliance, waitFor } from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { AcsSimulator } from '../../helpers/sim/acs.ts';
import { CLIENT, type Harness, startHarness, TENANT } from '../../helpers/sim/graph-harness.ts';
import { testPki } from '../../helpers/sim/pki.ts';
import { SmtpSink } from '../../helpers/sim/smtp-sink.ts';
import { type WebhookReceiver, webhookServer } from '../../helpers/webhook.ts';

const sandbox = applianceSandbox();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function status(t: TestAppliance): Promise<HealthSnapshot> {
  const res = await fetch(`http://127.0.0.1:${t.app.httpPort}/status`);
  return (await res.json()) as HealthSnapshot;
}

function graphConfig(h: Harness, secretFile: string) {
  return (c: ConfigInput): ConfigInput => ({
    ...c,
    routes: [
      {
        name: 'm365',
        type: 'graph',
        tenantId: TENANT,
        clientId: CLIENT,
        clientSecret: 'graph-secret',
        requestTimeout: '5s',
      },
    ],
    defaultRoute: 'm365',
    credentials: { 'graph-secret': { file: secretFile } },
    cloud: {
      authorityHost: h.entra.url,
      graphBaseUrl: h.graph.baseUrl,
      caFile: testPki().caFile,
      requestTimeout: '5s',
    },
  });
}

/** Where the operator is told: a webhook (json) and alert mail through a "notices" route to a sink. */
interface AlertSinks {
  readonly hook: WebhookReceiver;
  readonly mail: SmtpSink;
}

async function alertSinks(): Promise<AlertSinks> {
  const hook = await webhookServer();
  const mail = new SmtpSink({ tls: 'none' });
  await mail.start();
  closers.push(async () => {
    hook.close();
    await mail.close();
  });
  return { hook, mail };
}

/** Adds the notice route and alerts (failing at once, looked at every 20 ms) to a route config. */
function withAlerts(patch: (c: ConfigInput) => ConfigInput, sinks: AlertSinks) {
  return (c: ConfigInput): ConfigInput => {
    const p = patch(c);
    return {
      ...p,
      routes: [
        ...(p.routes ?? []),
        { name: 'notices', type: 'smtp', host: '127.0.0.1', port: sinks.mail.port, tls: { mode: 'none' } },
      ],
      notices: {
        route: 'notices',
        from: 'relay@contoso.com',
        alerts: {
          to: ['msp@contoso.com'],
          webhook: { url: sinks.hook.url, format: 'json' },
          routeFailingAfter: '0s',
        },
      },
    };
  };
}

/** An appliance whose log is captured and whose alerts (looked at every 20 ms) go to fresh sinks. */
async function startWatched(patch: (c: ConfigInput) => ConfigInput) {
  const log = captureLog();
  const sinks = await alertSinks();
  const t = await sandbox.start(withAlerts(patch, sinks), { logger: log.logger, alertCheckInterval: 20 });
  return { t, log, sinks };
}

/** Sends one mail, waits for the route to turn failing, and checks what the operator sees. */
async function expectFailingRoute(
  t: TestAppliance,
  log: ReturnType<typeof captureLog>,
  route: string,
  sinks: AlertSinks,
) {
  await sendMail(t.port, { from: 'scanner@contoso.com', to: 'alice@contoso.com', subject: 'stuck' });
  const s = await waitFor(
    async () => {
      const snap = await status(t);
      return snap.routes.find((r) => r.name === route)?.state === 'failing' ? snap : undefined;
    },
    10_000,
    `route ${route} failing`,
  );
  // Let a few more retries happen: the state line must not repeat, the mail must not move to dead/.
  await waitFor(async () =>
    (await t.app.metrics.get('relaykit_deferred_total', { route })) >= 3 ? true : undefined,
  );
  const r = s.routes.find((x) => x.name === route);
  expect(s.overall).toBe('red');
  expect(s.ready).toBe(true);
  const stateLines = log.lines().filter((l) => l.event === 'route-state' && l.route === route);
  expect(stateLines).toHaveLength(1);
  expect(stateLines[0]).toMatchObject({ level: 'error', from: 'ok', to: 'failing' });
  // Exactly one alert, by webhook and by mail, however often the health model is looked at.
  await waitFor(() => (sinks.mail.messages.length >= 1 ? true : undefined), 10_000, 'alert mail');
  for (let i = 0; i < 5; i++) await t.app.notices.check();
  await t.app.notices.settled();
  await waitFor(async () =>
    (await t.app.metrics.get('relaykit_deferred_total', { route })) >= 4 ? true : undefined,
  );
  await t.app.notices.settled();
  const hooks = sinks.hook.bodies as { kind: string; key: string; count: number; text: string }[];
  expect(
    hooks.filter((b) => b.kind === 'route-failing'),
    JSON.stringify(hooks),
  ).toHaveLength(1);
  expect(hooks.find((b) => b.kind === 'route-failing')).toMatchObject({ key: route, count: 1 });
  const mails = sinks.mail.messages.filter((m) =>
    m.raw.toString('utf8').includes(`route failing (${route})`),
  );
  expect(mails).toHaveLength(1);
  expect(mails[0]?.rcptTo).toEqual(['msp@contoso.com']);
  expect(mails[0]?.mailFrom).toBe('');
  expect(log.lines().filter((l) => l.event === 'alert' && l.kind === 'route-failing')).toHaveLength(1);
  const after = await waitFor(async () => {
    const snap = await status(t);
    return snap.queue.depth === 1 ? snap : undefined; // the alert mail itself has left the queue
  });
  expect(after.queue.deadLetters).toBe(0);
  return { route: r, line: stateLines[0] as Record<string, unknown> };
}

describe('route state from real refusals', () => {
  it('Graph: a wrong client secret (Entra 401 invalid_client) → failing, one line, one alert, mail kept', async () => {
    const h = await startHarness();
    closers.push(() => h.close());
    const wrong = join(sandbox.dir, 'wrong-secret.txt');
    writeFileSync(wrong, 'not-the-secret\n');
    const { t, log, sinks } = await startWatched(graphConfig(h, wrong));
    const { route, line } = await expectFailingRoute(t, log, 'm365', sinks);
    expect(route).toMatchObject({
      code: 'RELAY_TOKEN_FAILED',
      reason: expect.stringContaining('invalid_client'),
    });
    expect(route?.hint).toMatch(/client secret/);
    expect(line.code).toBe('RELAY_TOKEN_FAILED');
    expect(log.text()).not.toContain('not-the-secret');
    expect(h.graph.delivered).toHaveLength(0);
  });

  it('Graph: an app without Mail.Send (403 ErrorAccessDenied) → failing with the grant hint, one alert, mail kept', async () => {
    const h = await startHarness({ roles: [] });
    closers.push(() => h.close());
    const { t, log, sinks } = await startWatched(graphConfig(h, join(h.dir, 'secret.txt')));
    const { route } = await expectFailingRoute(t, log, 'm365', sinks);
    expect(route).toMatchObject({ code: 'RELAY_GRAPH_ACCESS_DENIED' });
    expect(route?.hint).toMatch(/Mail\.Send/);
  });

  it('ACS: a wrong access key (401) → failing, one line, one alert, mail kept', async () => {
    const sim = new AcsSimulator({ senders: ['DoNotReply@contoso.com'] });
    await sim.start();
    closers.push(() => sim.close());
    const keyFile = join(sandbox.dir, 'acs.txt');
    writeFileSync(
      keyFile,
      `endpoint=${sim.endpoint}/;accessKey=${Buffer.from('wrong key').toString('base64')}\n`,
    );
    const { t, log, sinks } = await startWatched((c) => ({
      ...c,
      routes: [
        {
          name: 'acs',
          type: 'acs',
          auth: { type: 'accessKey', connectionString: 'acs-key' },
          senderAddress: 'DoNotReply@contoso.com',
        },
      ],
      defaultRoute: 'acs',
      credentials: { 'acs-key': { file: keyFile } },
      // The simulator serves https with the test CA, as ACS serves https.
      cloud: { caFile: testPki().caFile },
    }));
    const { route } = await expectFailingRoute(t, log, 'acs', sinks);
    expect(route).toMatchObject({ code: 'RELAY_ACS_AUTH_FAILED' });
    expect(route?.hint).toMatch(/access key/);
    expect(sim.sent).toHaveLength(0);
  });

  it('ACS: an Entra app without a role on the resource (403) → failing with the role hint, one alert, mail kept', async () => {
    const h = await startHarness();
    closers.push(() => h.close());
    const sim = new AcsSimulator({
      senders: ['DoNotReply@contoso.com'],
      // A valid token, but no role assignment for this app on the Communication resource.
      entra: h.entra,
      tenantId: TENANT,
      roleHolders: new Set(),
    });
    await sim.start();
    closers.push(() => sim.close());
    const { t, log, sinks } = await startWatched((c) => ({
      ...c,
      routes: [
        {
          name: 'acs',
          type: 'acs',
          endpoint: sim.endpoint,
          auth: {
            type: 'entra',
            app: { tenantId: TENANT, clientId: CLIENT, clientSecret: 'graph-secret' },
          },
          senderAddress: 'DoNotReply@contoso.com',
        },
      ],
      defaultRoute: 'acs',
      credentials: { 'graph-secret': { file: join(h.dir, 'secret.txt') } },
      cloud: { authorityHost: h.entra.url, caFile: testPki().caFile, requestTimeout: '5s' },
    }));
    const { route } = await expectFailingRoute(t, log, 'acs', sinks);
    expect(route).toMatchObject({ code: 'RELAY_ACS_AUTH_FAILED' });
    expect(route?.hint).toMatch(/role/);
    expect(sim.requests.some((r) => r.status === 403)).toBe(true);
  });
});

describe('RouteStateTracker', () => {
  const at = (n: number) => 1_000_000 + n;
  it('goes ok → degraded on a passing failure, failing after 3 unreachable attempts, ok on delivery; one change each', () => {
    const changes: string[] = [];
    const t = new RouteStateTracker([{ name: 'r', type: 'smtp' }], at(0), (c) =>
      changes.push(`${c.from}>${c.to}`),
    );
    t.observe({ route: 'r', outcome: 'transient', code: 'RELAY_THROTTLED', reason: '429', at: at(1) });
    expect(t.get('r')).toMatchObject({ state: 'degraded', code: 'RELAY_THROTTLED', since: at(1) });
    t.observe({ route: 'r', outcome: 'transient', code: 'RELAY_NETWORK', reason: 'ECONNREFUSED', at: at(2) });
    t.observe({ route: 'r', outcome: 'transient', code: 'RELAY_NETWORK', reason: 'ECONNREFUSED', at: at(3) });
    expect(t.get('r')?.state).toBe('degraded');
    t.observe({ route: 'r', outcome: 'transient', code: 'RELAY_TIMEOUT', reason: 'timeout', at: at(4) });
    expect(t.get('r')).toMatchObject({ state: 'failing', since: at(4), consecutiveFailures: 4 });
    expect(t.get('r')?.hint).toMatch(/proxy/);
    t.observe({ route: 'r', outcome: 'delivered', reason: '250 ok', at: at(5) });
    expect(t.get('r')).toMatchObject({
      state: 'ok',
      since: at(5),
      lastDeliveredAt: at(5),
      consecutiveFailures: 0,
    });
    expect(changes).toEqual(['ok>degraded', 'degraded>failing', 'failing>ok']);
  });

  it('a message-level permanent failure leaves the route ok; a credential failure makes it failing at once', () => {
    const t = new RouteStateTracker([{ name: 'g', type: 'graph' }], at(0));
    t.observe({
      route: 'g',
      outcome: 'permanent',
      code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
      reason: 'too big',
      at: at(1),
    });
    expect(t.get('g')?.state).toBe('ok');
    t.observe({
      route: 'g',
      outcome: 'transient',
      code: 'RELAY_CREDENTIAL_UNAVAILABLE',
      reason: 'env X unset',
      at: at(2),
    });
    expect(t.get('g')).toMatchObject({ state: 'failing', code: 'RELAY_CREDENTIAL_UNAVAILABLE' });
    expect(t.get('g')?.hint).toMatch(/environment variable/);
  });
});
