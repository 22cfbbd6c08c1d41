// The ACS transport under the real delivery engine and spool: a 60-recipient leg whose second
// operation fails comes back as a new leg for exactly the unsent recipients, and nobody receives the
// message twice, even when the failed send had in fact reached ACS.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../appliance/src/config/load.ts';
import { type AcsRouteConfig, AcsTransport } from '../../../appliance/src/delivery/acs/acs-transport.ts';
import { DeliveryEngine } from '../../../appliance/src/delivery/worker.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import { createMetrics } from '../../../appliance/src/ops/metrics.ts';
import { newEntryId } from '../../../appliance/src/spool/entry-name.ts';
import { Spool } from '../../../appliance/src/spool/spool.ts';
import { baseConfigInput, removeDir, tempDir } from '../../helpers/appliance.ts';
import { AcsSimulator } from '../../helpers/sim/acs.ts';
import { credentialFiles, deps } from '../../helpers/transport-job.ts';

const FIXTURE = readFileSync(join(import.meta.dirname, '../../fixtures/mime/multipart-alternative.eml'));
const RCPTS = Array.from({ length: 60 }, (_, i) => `user${i}@fabrikam.com`);

let dir: string;
let sim: AcsSimulator;

beforeEach(async () => {
  dir = await tempDir();
  sim = new AcsSimulator({ senders: ['DoNotReply@contoso.com'] });
  await sim.start();
});

afterEach(async () => {
  await sim.close();
  await removeDir(dir);
});

async function run(requestTimeout: string) {
  const config = parseConfig(
    {
      ...baseConfigInput(dir),
      routes: [
        {
          name: 'acs',
          type: 'acs',
          auth: { type: 'accessKey', connectionString: 'acs-key' },
          senderAddress: 'DoNotReply@contoso.com',
          pollInterval: '5ms',
          requestTimeout,
        },
      ],
      defaultRoute: 'acs',
      spool: { directory: `${dir}/spool`, retrySchedule: '30ms,30ms*20', maxAge: '5d', maxRetryAfter: '2s' },
    },
    'test',
    dir,
  );
  const creds = credentialFiles(dir, { 'acs-key': sim.connectionString });
  const transport = new AcsTransport(config.routes[0] as AcsRouteConfig, deps({ credentials: creds.store }));
  const spool = await Spool.open(config.spool.directory, silentLogger());
  const engine = new DeliveryEngine({
    spool,
    transports: new Map([['acs', transport]]),
    routes: config.routes,
    spoolConfig: config.spool,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  const id = newEntryId();
  const w = await spool.begin(id);
  await w.write(FIXTURE);
  engine.add(
    await w.commit({
      version: 1,
      id,
      receivedAt: Date.now(),
      envelope: { mailFrom: 'scanner@contoso.com', rcptTo: RCPTS },
      identity: 'test',
      sourceIp: '127.0.0.1',
      listener: 'test',
      deliveries: [
        {
          route: 'acs',
          recipients: RCPTS,
          rule: 'default',
          status: 'pending',
          attempts: [],
          nextAttemptAt: 0,
        },
      ],
    }),
  );
  await engine.whenIdle();
  return { spool, engine };
}

function everyoneOnce(): void {
  const got = sim.sent.flatMap((s) => (s.message.recipients.bcc ?? []).map((a) => a.address));
  expect(got.sort()).toEqual([...RCPTS].sort());
}

describe('ACS transport under the delivery engine', () => {
  it('a throttled second operation is retried for its ten recipients only', async () => {
    sim.inject('send', { status: 429, code: 'TooManyRequests', retryAfterSeconds: 0 }, 1);
    const { spool } = await run('30s');
    expect(sim.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([202, 429, 202]);
    everyoneOnce();
    expect(await spool.list('queue')).toEqual([]);
    expect(await spool.list('dead')).toEqual([]);
  });

  it('a second operation that timed out after ACS took it is found again, not sent twice', async () => {
    sim.inject('send', 'hang', 1);
    // 3 s per request: only the hung POST can reach it; every other request answers in milliseconds.
    const { spool } = await run('3s');
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(sim.repeatedOperationIds).toBe(0);
    everyoneOnce();
    expect(await spool.list('queue')).toEqual([]);
    expect(await spool.list('dead')).toEqual([]);
  });
});
