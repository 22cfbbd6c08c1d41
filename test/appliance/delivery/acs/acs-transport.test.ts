import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { routeSchema } from '../../../../appliance/src/config/schema.ts';
import { hmacHeaders } from '../../../../appliance/src/delivery/acs/acs-auth.ts';
import {
  ACS_SCOPE,
  type AcsRouteConfig,
  AcsTransport,
} from '../../../../appliance/src/delivery/acs/acs-transport.ts';
import type { DeliveryJob, TransportDeps } from '../../../../appliance/src/delivery/transport.ts';
import { captureLog } from '../../../helpers/log-capture.ts';
import { AcsSimulator, type AcsSimulatorOptions } from '../../../helpers/sim/acs.ts';
import { CLIENT, type Harness, startHarness, TENANT } from '../../../helpers/sim/graph-harness.ts';
import { simFetch } from '../../../helpers/sim/token-client.ts';
import {
  credentialFiles,
  deps,
  fakeTokens,
  fixture,
  job,
  messageFile,
  TEST_APP,
  tempDir,
} from '../../../helpers/transport-job.ts';

const SENDER = 'DoNotReply@contoso.com';

function route(over: Record<string, unknown> = {}): AcsRouteConfig {
  return routeSchema.parse({
    name: 'acs',
    type: 'acs',
    auth: { type: 'accessKey', connectionString: 'acs-key' },
    senderAddress: SENDER,
    pollInterval: '10ms',
    ...over,
  }) as AcsRouteConfig;
}

let sim: AcsSimulator;
let dir: string;

async function setup(
  options: Partial<AcsSimulatorOptions> = {},
  routeOver: Record<string, unknown> = {},
  depsOver: Partial<TransportDeps> = {},
) {
  sim = new AcsSimulator({ senders: [SENDER, 'reports@contoso.com'], ...options });
  await sim.start();
  dir = tempDir();
  const creds = credentialFiles(dir, { 'acs-key': sim.connectionString });
  const d = deps({ credentials: creds.store, ...depsOver });
  return { transport: new AcsTransport(route(routeOver), d), creds, deps: d };
}

afterEach(async () => {
  await sim?.close();
});

/** Sets up (with `setup`'s arguments), delivers one fixture with this envelope and expects it
 * delivered; returns the EmailMessage ACS was sent. */
async function sentFixture(
  name: string,
  envelope: Partial<DeliveryJob>,
  ...setupArgs: Parameters<typeof setup>
) {
  const { transport } = await setup(...setupArgs);
  const out = await transport.deliver(job(messageFile(dir, fixture(name)), envelope));
  expect(out.kind).toBe('delivered');
  return sim.sent[0]!.message;
}

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

function recipients(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user${i}@fabrikam.com`);
}

describe('ACS transport: MIME to ACS JSON', () => {
  it('converts multipart/alternative, keeps envelope recipients authoritative and rewrites the sender', async () => {
    const { transport } = await setup();
    const out = await transport.deliver(
      job(messageFile(dir, fixture('multipart-alternative.eml')), {
        recipients: ['alice@fabrikam.com', 'bob@fabrikam.com', 'dave@fabrikam.com'],
      }),
    );
    expect(out).toMatchObject({ kind: 'delivered' });
    expect(out.kind === 'delivered' && out.detail).toContain(
      'From scanner@contoso.com sent as DoNotReply@contoso.com',
    );
    expect(sim.sent).toHaveLength(1);
    const m = sim.sent[0]!.message;
    expect(m.senderAddress).toBe(SENDER);
    expect(m.replyTo).toEqual([{ address: 'scanner@contoso.com', displayName: 'Scanner Room 2' }]);
    expect(m.content.subject).toBe('Weekly toner report');
    expect(m.content.plainText).toBe('Toner levels:\n  Black: 12%\n  Cyan: 80%\n');
    expect(m.content.html).toBe(
      '<html><body><p>Toner levels:</p><ul><li>Black: 12%</li><li>Cyan: 80%</li></ul></body></html>\n',
    );
    // carol is in the To header but not in this leg's envelope: not sent. dave is envelope-only: Bcc.
    expect(m.recipients).toEqual({
      to: [{ address: 'alice@fabrikam.com', displayName: 'Alice Example' }],
      cc: [{ address: 'bob@fabrikam.com', displayName: 'Bob Builder' }],
      bcc: [{ address: 'dave@fabrikam.com' }],
    });
    expect(m.headers).toEqual({
      'Message-ID': '<20261121091402.4711@mfp-2.contoso.com>',
      'X-Mailer': 'MFP Firmware 4.2',
      'X-Device-Serial': 'SN-0042',
    });
    expect(m.userEngagementTrackingDisabled).toBe(true);
    expect(m.attachments).toBeUndefined();
  });

  it('sends inline images with contentId and keeps cid: links and ordinary attachments', async () => {
    const m = await sentFixture(
      'inline-image.eml',
      {
        mailFrom: 'reports@contoso.com',
        recipients: ['ops@fabrikam.com'],
      },
      {},
      { provisionedSenders: ['reports@contoso.com'] },
    );
    // A provisioned sender goes out as itself; nothing is added to Reply-To.
    expect(m.senderAddress).toBe('reports@contoso.com');
    expect(m.replyTo).toBeUndefined();
    expect(m.content.html).toContain('<img src="cid:logo.png@contoso.com" alt="logo">');
    expect(m.content.plainText).toBe('See the attached report.\n');
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    );
    const pdf = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n';
    expect(m.attachments).toEqual([
      {
        name: 'logo.png',
        contentType: 'image/png',
        contentInBase64: b64(png),
        contentId: 'logo.png@contoso.com',
      },
      { name: 'report.pdf', contentType: 'application/pdf', contentInBase64: b64(pdf) },
    ]);
  });

  it('decodes non-ASCII names, subjects and RFC 2231 file names', async () => {
    const m = await sentFixture('non-ascii.eml', {
      mailFrom: 'juergen@contoso.com',
      recipients: ['zoe@fabrikam.com'],
    });
    expect(m.content.subject).toBe('Rechnung für März – 📄');
    expect(m.content.plainText).toBe(
      'Guten Tag Zoë,\n\nanbei die Rechnung für März (Größe: 1 Seite).\nGrüße – Jürgen 📄\n',
    );
    expect(m.recipients.to).toEqual([{ address: 'zoe@fabrikam.com', displayName: 'Zoë Ångström' }]);
    expect(m.replyTo).toEqual([{ address: 'juergen@contoso.com', displayName: 'Jürgen Müller' }]);
    expect(m.attachments?.map((a) => [a.name, a.contentType])).toEqual([
      ['Rechnung März 2026.pdf', 'application/pdf'],
    ]);
  });

  // ISO-8859-1 is decoded as its WHATWG superset windows-1252, as mail clients do: 0x80 is the euro sign.
  it('decodes quoted-printable bodies (soft breaks, ISO-8859-1, =3D) and keeps Reply-To and threading headers', async () => {
    const m = await sentFixture('quoted-printable.eml', {
      mailFrom: 'accounting@contoso.com',
      recipients: ['finance@fabrikam.com'],
    });
    expect(m.content.subject).toBe('Relevé de compte');
    expect(m.content.plainText).toBe(
      'Bonjour,\n\nVeuillez trouver ci-dessous le relevé de compte du mois. Cette ligne est très longue et a été coupée par un saut de ligne doux pour respecter la limite de 76 caractères.\nMontant dû : 1\u00a0234,56 €\n= fin =\n',
    );
    expect(m.content.html).toBe(
      '<html><body><p style="color:#333">Relevé de compte du mois. Cette ligne est très longue.</p><p>Montant dû : 1&nbsp;234,56 €</p></body></html>\n',
    );
    // The message's own Reply-To wins over the rewritten sender.
    expect(m.replyTo).toEqual([{ address: 'ap@contoso.com', displayName: 'AP Desk' }]);
    expect(m.headers).toEqual({
      'Message-ID': '<qp-7@contoso.com>',
      'In-Reply-To': '<prev-6@fabrikam.com>',
      References: '<prev-5@fabrikam.com> <prev-6@fabrikam.com>',
      Importance: 'high',
      'X-Priority': '1',
    });
  });

  it('converts a bare single-part text message', async () => {
    const { transport } = await setup();
    const raw = 'From: a@contoso.com\r\nTo: alice@fabrikam.com\r\nSubject: bare\r\n\r\nhello\r\n';
    const out = await transport.deliver(job(messageFile(dir, raw)));
    expect(out.kind).toBe('delivered');
    expect(sim.sent[0]!.message.content).toEqual({ subject: 'bare', plainText: 'hello\n' });
  });
});

describe('ACS transport: authentication', () => {
  it('signs with HMAC that the simulator verifies; a wrong key is a transient auth failure and a rotated key is re-read', async () => {
    const { transport, creds } = await setup();
    creds.write('acs-key', `endpoint=${sim.endpoint}/;accessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    // The store cached the right key at first use? No: nothing used it yet, so the wrong one is read.
    const first = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(first).toMatchObject({ kind: 'transient', code: 'RELAY_ACS_AUTH_FAILED' });
    expect(sim.sent).toHaveLength(0);
    creds.write('acs-key', sim.connectionString);
    const second = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(second.kind).toBe('delivered');
    expect(sim.sent[0]!.auth).toBe('hmac');
  });

  it('refuses a request dated outside the allowed skew', async () => {
    const { transport } = await setup({}, {}, { now: () => Date.now() - 16 * 60_000 });
    const out = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_ACS_AUTH_FAILED' });
    expect(out.kind === 'transient' && out.reason).toContain('skew');
  });

  it('simulator: the content hash, the path+query and host:port are all part of the signature', async () => {
    await setup();
    const url = new URL(`${sim.endpoint}/emails:send?api-version=2025-09-01`);
    const body = JSON.stringify({
      senderAddress: SENDER,
      content: { subject: 's', plainText: 'x' },
      recipients: { to: [{ address: 'a@b.c' }] },
    });
    const post = (headers: Record<string, string>, b = body) =>
      simFetch(url.toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: b,
      });
    const good = hmacHeaders('POST', url, body, sim.accessKey, new Date());
    const tampered = await post(good, body.replace('"s"', '"t"'));
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as { error: { message: string } }).error.message).toContain(
      'content hash',
    );
    const sameHashOtherBody = await post(
      {
        ...good,
        'x-ms-content-sha256': createHash('sha256').update(body.replace('"s"', '"t"')).digest('base64'),
      },
      body.replace('"s"', '"t"'),
    );
    expect(sameHashOtherBody.status).toBe(401);
    const wrongHost = await post(
      hmacHeaders(
        'POST',
        new URL(`http://127.0.0.1${url.pathname}${url.search}`),
        body,
        sim.accessKey,
        new Date(),
      ),
    );
    expect(wrongHost.status).toBe(401);
    const otherQuery = await post(
      hmacHeaders(
        'POST',
        new URL(`${sim.endpoint}/emails:send?api-version=2023-03-31`),
        body,
        sim.accessKey,
        new Date(),
      ),
    );
    expect(otherQuery.status).toBe(401);
    const ok = await post(good);
    expect(ok.status).toBe(202);
    expect(ok.headers.get('operation-location')).toMatch(
      /\/emails\/operations\/[0-9a-f-]{36}\?api-version=2025-09-01$/,
    );
  });

  /** An ACS simulator that verifies Entra tokens, and a transport with real MSAL tokens for it. */
  async function entraSetup(h: Harness, scope?: string): Promise<AcsTransport> {
    const { deps: d } = await setup(
      { entra: h.entra, tenantId: TENANT },
      {},
      { tokens: h.tokens, credentials: h.credentials },
    );
    const app = { tenantId: TENANT, clientId: CLIENT, clientSecret: 'graph-secret' };
    return new AcsTransport(
      route({
        endpoint: sim.endpoint,
        auth: { type: 'entra', app, ...(scope === undefined ? {} : { scope }) },
      }),
      d,
    );
  }

  it('uses a real Entra token for https://communication.azure.com, and a new one after ACS finds it expired', async () => {
    const h = await startHarness();
    try {
      let skew = 0;
      h.entra.now = () => Date.now() + skew;
      const t = await entraSetup(h);
      const msg = () => job(messageFile(dir, fixture('multipart-alternative.eml')));
      expect((await t.deliver(msg())).kind).toBe('delivered');
      expect(sim.sent[0]!.auth).toBe('bearer');
      // The scope the docs give for the Communication data plane (reference B2), not ACS_SCOPE read back.
      expect(h.entra.issued.map((i) => i.scope)).toEqual(['https://communication.azure.com/.default']);
      // ACS's clock is two hours on: the cached token has expired there. ACS answers 401; the next
      // attempt forces a fresh token and goes through.
      skew = 2 * 3600_000;
      expect(await t.deliver(msg())).toMatchObject({ kind: 'transient', code: 'RELAY_ACS_AUTH_FAILED' });
      expect((await t.deliver(msg())).kind).toBe('delivered');
      expect(h.entra.issued).toHaveLength(2);
      expect(sim.requests.filter((r) => r.status === 401)).toHaveLength(1);
      expect(sim.sent).toHaveLength(2);
    } finally {
      await h.close();
    }
  });

  it('asks for an explicit auth.scope instead of the communication scope (gateway, private endpoint)', async () => {
    const h = await startHarness();
    try {
      const t = await entraSetup(h, 'api://relay-acs-gateway/.default');
      const out = await t.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
      expect(h.entra.issued.map((i) => i.scope)).toEqual(['api://relay-acs-gateway/.default']);
      // The simulator is ACS itself, not such a gateway: a token for another audience is refused.
      expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_ACS_AUTH_FAILED' });
      expect(sim.sent).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('a token failure is transient and sends nothing', async () => {
    const tokens = fakeTokens();
    tokens.fail = new Error('AADSTS7000215: Invalid client secret provided.');
    await setup({}, {}, {});
    const t = new AcsTransport(
      route({
        endpoint: sim.endpoint,
        auth: {
          type: 'entra',
          app: TEST_APP,
        },
      }),
      deps({ credentials: credentialFiles(dir, {}).store, tokens }),
    );
    const out = await t.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_TOKEN_FAILED' });
    expect(sim.requests).toHaveLength(0);
  });
});

describe('ACS transport: logs', () => {
  it('logs each operation at debug level without the access key or the signature', async () => {
    const { logger, text } = captureLog('debug');
    const { transport } = await setup({}, {}, { logger });
    expect((await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))))).kind).toBe(
      'delivered',
    );
    const log = text();
    expect(log).toContain(sim.sent[0]!.operationId);
    expect(log).not.toContain(sim.accessKey);
    expect(log).not.toContain('Signature=');
  });
});

describe('ACS transport: limits, splitting and idempotency', () => {
  it('splits 120 recipients into 50/50/20 operations with stable Operation-Ids; a retry re-finds them instead of resending', async () => {
    const { transport } = await setup();
    const rcpts = recipients(120);
    const j = job(messageFile(dir, fixture('multipart-alternative.eml')), {
      id: 'frozen-entry-id',
      recipients: rcpts,
    });
    const out = await transport.deliver(j);
    expect(out.kind).toBe('delivered');
    expect(sim.sent.map((s) => (s.message.recipients.bcc ?? []).length)).toEqual([50, 50, 20]);
    expect(sim.sent.flatMap((s) => s.message.recipients.bcc!.map((a) => a.address))).toEqual(rcpts);
    // Frozen values: an entry queued before an upgrade must keep its Operation-Ids after it, or its
    // retry would send again. UUIDs as the Operation-Id header requires (ACS Email REST spec, B1 of
    // ../shared/reference/microsoft-mail-apis.md), version 8 with the RFC 9562 variant.
    expect(sim.sent.map((s) => s.operationId)).toEqual([
      'bd940c19-6db8-8a41-980f-606b709253e2',
      '37ab118d-55ce-8d35-aa6c-3825761c3624',
      'abff2495-c281-8d37-a72d-8f2353709caf',
    ]);
    for (const s of sim.sent)
      expect(s.operationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.kind === 'delivered' && out.remoteId).toBe(sim.sent.map((s) => s.operationId).join(','));
    // The engine did not record the outcome (crash) and tries again: nothing is sent twice.
    const again = await transport.deliver({ ...j, attempt: 2 });
    expect(again.kind).toBe('delivered');
    expect(sim.sent).toHaveLength(3);
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
  });

  it('when a later chunk is throttled, reports exactly the unsent recipients as transient; their retry sends only them', async () => {
    let clock = Date.now();
    const { transport } = await setup({ sendPerMinute: 1, now: () => clock }, {}, { now: () => clock });
    const rcpts = recipients(60);
    const j = job(messageFile(dir, fixture('multipart-alternative.eml')), { recipients: rcpts });
    const out = await transport.deliver(j);
    expect(out.kind).toBe('delivered');
    if (out.kind !== 'delivered') return;
    expect(out.failedRecipients?.map((f) => f.recipient)).toEqual(rcpts.slice(50));
    expect(new Set(out.failedRecipients?.map((f) => `${f.outcome}:${f.code}`))).toEqual(
      new Set(['transient:RELAY_THROTTLED']),
    );
    expect(sim.sent).toHaveLength(1);
    clock += 61_000;
    const retry = await transport.deliver({
      ...j,
      leg: 1,
      recipients: rcpts.slice(50),
      attempt: 2,
      idempotencyKey: `${j.idempotencyKey}/r1`,
    });
    expect(retry).toMatchObject({ kind: 'delivered' });
    expect(retry.kind === 'delivered' && retry.failedRecipients).toBeUndefined();
    expect(sim.sent.map((s) => s.message.recipients.bcc!.length)).toEqual([50, 10]);
  });

  it('a throttled first request is transient with the Retry-After of the 429', async () => {
    const { transport } = await setup({ sendPerMinute: 0 });
    const out = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_THROTTLED' });
    expect(out.kind === 'transient' && out.retryAfterMs).toBeGreaterThan(0);
    expect(out.kind === 'transient' && out.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('after a 429 it waits out the Retry-After without asking ACS again, and says so in health', async () => {
    let clock = Date.now();
    const { transport } = await setup({ now: () => clock }, {}, { now: () => clock });
    sim.inject('send', { status: 429, code: 'TooManyRequests', retryAfterSeconds: 30 });
    const first = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(first).toMatchObject({ kind: 'transient', code: 'RELAY_THROTTLED', retryAfterMs: 30_000 });
    clock += 10_000;
    const second = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(second).toMatchObject({ kind: 'transient', code: 'RELAY_THROTTLED', retryAfterMs: 20_000 });
    expect(sim.requests).toHaveLength(1);
    expect(transport.health()).toEqual({ ok: true, detail: 'throttled by ACS for 20 s' });
    clock += 20_000;
    expect((await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))))).kind).toBe(
      'delivered',
    );
    expect(transport.health()).toEqual({ ok: true });
  });

  it('health reports refused credentials until a send succeeds', async () => {
    const { transport } = await setup();
    sim.inject('send', { status: 401, code: 'Denied', message: 'Denied by the resource provider.' });
    await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(transport.health()).toMatchObject({
      ok: false,
      detail: expect.stringContaining('HTTP 401 Denied'),
    });
    await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(transport.health()).toEqual({ ok: true });
  });

  it('refuses over the 10 MB request limit before sending, as a fallback-eligible permanent failure', async () => {
    const { transport } = await setup();
    const big = Buffer.alloc(8 * 1024 * 1024, 0x41)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    const raw = `From: scanner@contoso.com\r\nTo: alice@fabrikam.com\r\nSubject: scan\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${big}\r\n--b--\r\n`;
    const out = await transport.deliver(job(messageFile(dir, raw)));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_ACS_TOO_LARGE', fallbackEligible: true });
    expect(sim.requests).toHaveLength(0);
  });

  it('the simulator itself answers 413 above 10 MB, classified the same way', async () => {
    const { transport } = await setup({}, { maxRequestSize: '20MB' });
    const big = Buffer.alloc(8 * 1024 * 1024, 0x41)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    const raw = `From: scanner@contoso.com\r\nTo: alice@fabrikam.com\r\nSubject: scan\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${big}\r\n--b--\r\n`;
    const out = await transport.deliver(job(messageFile(dir, raw)));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_ACS_TOO_LARGE', fallbackEligible: true });
    expect(sim.requests.map((r) => r.status)).toEqual([413]);
  });

  it('a send that timed out after ACS got it is resumed by Operation-Id on the next attempt, not sent twice', async () => {
    // The first attempt makes one request, the one that hangs: only it can meet the short timeout.
    // The second attempt runs on a transport with the default timeout, so its real work never races one.
    const { transport, deps: d } = await setup({}, { requestTimeout: '300ms' });
    sim.inject('send', 'hang');
    const j = job(messageFile(dir, fixture('multipart-alternative.eml')));
    const first = await transport.deliver(j);
    expect(first).toMatchObject({ kind: 'transient', code: 'RELAY_TIMEOUT', possibleDuplicate: true });
    // One request, the hung POST (logged with status 0: never answered).
    expect(sim.requests.map((r) => [r.method, r.status])).toEqual([['POST', 0]]);
    expect(sim.sent).toHaveLength(1);
    const second = await new AcsTransport(route(), d).deliver({ ...j, attempt: 2 });
    expect(second).toMatchObject({ kind: 'delivered', remoteId: sim.sent[0]!.operationId });
    expect(sim.sent).toHaveLength(1);
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a chunk that timed out comes back as a new leg and finds its operation instead of sending again', async () => {
    // 3 s per request: the first chunk's POST and polls answer in milliseconds and never race it; only
    // the hung second POST reaches it (checked below: every other request was answered).
    const { transport } = await setup({}, { requestTimeout: '3s' });
    sim.inject('send', 'hang', 1);
    const rcpts = recipients(60);
    const j = job(messageFile(dir, fixture('multipart-alternative.eml')), { recipients: rcpts });
    const out = await transport.deliver(j);
    expect(out).toMatchObject({ kind: 'delivered', possibleDuplicate: true });
    if (out.kind !== 'delivered') return;
    // Every request but the hung second POST (status 0) was answered.
    expect(sim.requests.filter((r) => r.status === 0).map((r) => r.method)).toEqual(['POST']);
    expect(sim.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([202, 0]);
    expect(out.failedRecipients?.map((f) => [f.recipient, f.outcome, f.code])).toEqual(
      rcpts.slice(50).map((r) => [r, 'transient', 'RELAY_TIMEOUT']),
    );
    expect(sim.sent).toHaveLength(2);
    // The engine retries those ten as a new leg (new index, new idempotency key, attempt 2).
    const retry = await transport.deliver({
      ...j,
      leg: 1,
      recipients: rcpts.slice(50),
      attempt: 2,
      idempotencyKey: `${j.id}.1.acs`,
    });
    expect(retry).toMatchObject({ kind: 'delivered', remoteId: sim.sent[1]!.operationId });
    expect(sim.sent).toHaveLength(2);
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('polls until the operation is terminal, honouring status throttling', async () => {
    const { transport } = await setup({ runningPolls: 3, statusPerMinute: 100 });
    sim.inject('status', { status: 429, code: 'TooManyRequests', retryAfterSeconds: 0 });
    const out = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out.kind).toBe('delivered');
    expect(sim.requests.filter((r) => r.method === 'GET').map((r) => r.status)).toEqual([429, 200, 200, 200]);
  });

  it('an operation still running at pollTimeout is transient and the next attempt resumes it', async () => {
    const { transport } = await setup({ runningPolls: 1000 }, { pollTimeout: '100ms' });
    const j = job(messageFile(dir, fixture('multipart-alternative.eml')));
    const out = await transport.deliver(j);
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_TIMEOUT' });
    expect(out.kind === 'transient' && out.reason).toContain('resumes');
    sim.operations.get(sim.sent[0]!.operationId)!.status = 'Succeeded';
    const again = await transport.deliver({ ...j, attempt: 2 });
    expect(again.kind).toBe('delivered');
    expect(sim.sent).toHaveLength(1);
  });

  it('an operation that ends Failed (EmailDropped) is permanent', async () => {
    const { transport } = await setup({
      outcome: () => ({
        status: 'Failed',
        error: { code: 'EmailDropped', message: 'Email was dropped after several attempts to deliver.' },
      }),
    });
    const out = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_ACS_DROPPED' });
    expect(out.kind === 'permanent' && out.reason).toContain('dropped after several attempts');
  });

  it('a sender on no linked domain is permanent and fallback-eligible, with a hint', async () => {
    const { transport } = await setup({}, { senderAddress: 'noreply@unlinked.example' });
    const out = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(out).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_ACS_SENDER_NOT_ALLOWED',
      fallbackEligible: true,
    });
    expect(out.kind === 'permanent' && out.hint).toContain('senderAddress');
  });

  it('a 503 is transient; a 400 is permanent', async () => {
    const { transport } = await setup();
    sim.inject('send', { status: 503, code: 'ServiceUnavailable', retryAfterSeconds: 7 });
    const a = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(a).toMatchObject({ kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', retryAfterMs: 7000 });
    sim.inject('send', { status: 400, code: 'InvalidEmailAddress', message: 'bad recipient' });
    const b = await transport.deliver(job(messageFile(dir, fixture('multipart-alternative.eml'))));
    expect(b).toMatchObject({ kind: 'permanent', code: 'RELAY_ACS_REJECTED' });
  });

  it('refuses plain http at start, loopback included (no test-only exception)', () => {
    for (const endpoint of [
      'http://contoso.communication.azure.com',
      'http://127.0.0.1:8080',
      'http://localhost:1',
    ]) {
      expect(
        () =>
          new AcsTransport(route({ endpoint }), deps({ credentials: credentialFiles(tempDir(), {}).store })),
        endpoint,
      ).toThrow(/must use https/);
    }
  });
});
