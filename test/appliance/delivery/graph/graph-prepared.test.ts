// The engine keeps the next messages of a Graph mailbox read and waiting behind the mailbox limiter
// while its requests are out (issue 15 item 4, delivered rate): when a request ends, a prepared leg
// takes the slot at once instead of after the next message's spool read. The limiter still lets only
// the mailbox's 4 requests reach Graph, counted at the simulator.
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Appliance, startAppliance } from '../../../../appliance/src/app.ts';
import { parseConfig } from '../../../../appliance/src/config/load.ts';
import { silentLogger } from '../../../../appliance/src/log.ts';
import { waitFor } from '../../../helpers/appliance.ts';
import { CLIENT, type Harness, startHarness, TENANT } from '../../../helpers/sim/graph-harness.ts';
import { testPki } from '../../../helpers/sim/pki.ts';

const MAILBOX = 'queue@contoso.com';
const KEY = `${CLIENT}|${MAILBOX}`;
let h: Harness;
let app: Appliance;
let port: number;

beforeAll(async () => {
  h = await startHarness({ graph: { messagesPerMinute: 100_000 }, mailboxes: [{ address: MAILBOX }] });
  const config = parseConfig(
    {
      listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, auth: false }],
      identities: [{ name: 'devices', networks: ['127.0.0.0/8'] }],
      routes: [
        {
          name: 'm365',
          type: 'graph',
          tenantId: TENANT,
          clientId: CLIENT,
          clientSecret: 'graph-secret',
          messagesPerMinute: 6000,
          concurrency: 16,
          requestTimeout: '2s',
        },
      ],
      defaultRoute: 'm365',
      spool: { directory: join(h.dir, 'prepared-spool'), retrySchedule: '100ms*50' },
      http: { enabled: false },
      delivery: { drainTimeout: '1s' },
      log: { level: 'silent' },
      credentials: { 'graph-secret': { file: join(h.dir, 'secret.txt') } },
      cloud: { authorityHost: h.entra.url, graphBaseUrl: h.graph.baseUrl, caFile: testPki().caFile },
    },
    'prepared',
    h.dir,
  );
  app = await startAppliance(config, { logger: silentLogger() });
  port = (app.listeners[0] as { port: number }).port;
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await h?.close();
});

describe('Graph legs prepared behind the mailbox limiter', () => {
  it('holds 4 more legs of a mailbox ready while its 4 requests are out, and Graph still sees 4', async () => {
    h.graph.inject({ op: 'sendMail', mailbox: MAILBOX, hang: true, times: 4 });
    const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.sendMail({ from: MAILBOX, to: 'alice@contoso.com', subject: `prepared ${i}`, text: 'x' }),
      ),
    );
    t.close();
    // The four requests hang at the service; four more legs have read their message and wait.
    await waitFor(
      () => (h.graph.stats.maxInFlight.get(KEY) === 4 ? true : undefined),
      10_000,
      'the service holding 4 requests',
    );
    await waitFor(
      () => (app.engine.inFlight('m365') === 8 ? true : undefined),
      10_000,
      '8 legs in the engine while the service holds 4 requests',
    );
    // The held requests time out (2 s) and are retried: every message arrives, never 5 at once.
    await waitFor(
      () => h.graph.delivered.filter((d) => d.subject?.startsWith('prepared ')).length === 10 || undefined,
      30_000,
      'all delivered',
    );
    expect(h.graph.stats.maxInFlight.get(KEY)).toBe(4);
    expect(h.graph.stats.overConcurrency).toBe(0);
  }, 60_000);
});
