// End to end through the appliance: SMTP in (nodemailer client) → receiver → spool → engine → Graph
// transport → Graph simulator out, with tokens from the Entra simulator through MSAL and the client
// secret read from the Key Vault simulator through the Azure SDK (test CA, challenge auth).
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Appliance, startAppliance } from '../../appliance/src/app.ts';
import { parseConfig } from '../../appliance/src/config/load.ts';
import { silentLogger } from '../../appliance/src/log.ts';
import { waitFor } from '../helpers/appliance.ts';
import {
  CLIENT,
  type Harness,
  SECRET,
  sha256,
  startHarness,
  TENANT,
  writeBlob,
} from '../helpers/sim/graph-harness.ts';
import { KeyVaultSimulator } from '../helpers/sim/keyvault.ts';
import { testPki } from '../helpers/sim/pki.ts';

const APPLIANCE_APP = '99999999-8888-7777-6666-555555555555';
let h: Harness;
let kv: KeyVaultSimulator;
let app: Appliance;
let port: number;

beforeAll(async () => {
  h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [
      { address: 'scanner@contoso.com', maxSendSize: 150 * 1024 * 1024 },
      { address: 'storm@contoso.com' },
    ],
    credentials: {},
  });
  const pki = testPki();
  const cert = pki.clientCertificate('appliance');
  h.entra.registerApp({ tenantId: TENANT, clientId: APPLIANCE_APP, certificates: [cert.certPem] });
  kv = await KeyVaultSimulator.start(h.entra, TENANT);
  kv.readers.add(APPLIANCE_APP);
  kv.set('graph-client-secret', SECRET);
  const config = parseConfig(
    {
      listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, auth: false, maxMessageSize: '160MB' }],
      identities: [{ name: 'devices', networks: ['127.0.0.0/8'] }],
      routes: [
        {
          name: 'm365',
          type: 'graph',
          tenantId: TENANT,
          clientId: CLIENT,
          clientSecret: 'graph-secret',
          messagesPerMinute: 6000,
          requestTimeout: '20s',
        },
      ],
      defaultRoute: 'm365',
      spool: { directory: join(h.dir, 'spool'), retrySchedule: '100ms,200ms*3,500ms*20' },
      http: { enabled: false },
      delivery: { drainTimeout: '2s' },
      log: { level: 'silent' },
      credentials: { 'graph-secret': { keyVault: { secret: 'graph-client-secret' } } },
      cloud: {
        authorityHost: h.entra.url,
        graphBaseUrl: h.graph.baseUrl,
        caFile: pki.caFile,
        requestTimeout: '5s',
      },
      keyVault: {
        url: kv.url,
        tenantId: TENANT,
        clientId: APPLIANCE_APP,
        certificate: cert.file,
        // verifyChallengeResource stays at its default (on): the vault is relaykit-test.vault.azure.net.
        refreshInterval: '1s',
      },
    },
    'e2e',
    h.dir,
  );
  app = await startAppliance(config, { logger: silentLogger() });
  port = (app.listeners[0] as { port: number }).port;
});

afterAll(async () => {
  await app?.stop();
  await kv.close();
  await h.close();
});

type Mail = Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0];

async function send(mail: Mail): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
  try {
    await t.sendMail({ from: 'scanner@contoso.com', to: 'alice@contoso.com', ...mail });
  } finally {
    t.close();
  }
}

const bySubject = (subject: string) => () => h.graph.delivered.find((d) => d.subject === subject);

describe('SMTP in, Graph out', () => {
  it('plain, HTML with attachments, Bcc-only and non-ASCII messages', async () => {
    await send({ subject: 'e2e plain', text: 'plain body' });
    const pdf = Buffer.alloc(40_000, 3);
    await send({
      subject: 'e2e html',
      html: '<h1>Hi</h1>',
      attachments: [{ filename: 'scan.pdf', content: pdf }],
    });
    await send({
      subject: 'e2e bcc',
      to: undefined,
      bcc: ['x@contoso.com', 'y@fabrikam.com'],
      text: 'hidden',
    });
    await send({
      subject: 'Grüße aus Köln – 日本',
      from: { name: 'Jürgen', address: 'scanner@contoso.com' },
      text: 'Größe',
    });

    expect((await waitFor(bySubject('e2e plain'), 15_000, 'plain')).text?.trim()).toBe('plain body');
    const html = await waitFor(bySubject('e2e html'), 15_000, 'html');
    expect(html.html).toContain('<h1>Hi</h1>');
    expect(html.attachments[0]).toMatchObject({ name: 'scan.pdf', size: pdf.length, sha256: sha256(pdf) });
    const bcc = await waitFor(bySubject('e2e bcc'), 15_000, 'bcc');
    expect(bcc.to).toEqual([]);
    expect(bcc.recipients.sort()).toEqual(['x@contoso.com', 'y@fabrikam.com']);
    const utf = await waitFor(bySubject('Grüße aus Köln – 日本'), 15_000, 'utf8');
    expect(utf.text?.trim()).toBe('Größe');
    // One token served them all.
    expect(h.entra.issued.filter((i) => i.clientId === CLIENT).length).toBe(1);
  });

  it('2 MB by sendMail, 10 MB and 100 MB through upload sessions', async () => {
    const two = await writeBlob(h.dir, 'e2e-two.bin', 1_400_000);
    const ten = await writeBlob(h.dir, 'e2e-ten.bin', 10 * 1024 * 1024);
    const hundred = await writeBlob(h.dir, 'e2e-hundred.bin', 100 * 1024 * 1024);
    await send({ subject: 'e2e 2MB', text: 'x', attachments: [{ filename: 'two.bin', path: two.path }] });
    await send({ subject: 'e2e 10MB', text: 'x', attachments: [{ filename: 'ten.bin', path: ten.path }] });
    await send({
      subject: 'e2e 100MB',
      text: 'x',
      attachments: [{ filename: 'hundred.bin', path: hundred.path }],
    });
    const d2 = await waitFor(bySubject('e2e 2MB'), 30_000, '2MB');
    expect(d2.via).toBe('sendMail');
    expect(d2.attachments[0]?.sha256).toBe(two.sha256);
    const d10 = await waitFor(bySubject('e2e 10MB'), 60_000, '10MB');
    expect(d10.via).toBe('draft');
    expect(d10.attachments[0]?.sha256).toBe(ten.sha256);
    const d100 = await waitFor(bySubject('e2e 100MB'), 120_000, '100MB');
    expect(d100.attachments[0]).toMatchObject({ size: 100 * 1024 * 1024, sha256: hundred.sha256 });
    expect(h.graph.stats.largestRequest).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(h.graph.openDrafts).toBe(0);
  }, 240_000);

  it('rides out a throttling storm without exceeding 4 concurrent requests per mailbox', async () => {
    for (let i = 0; i < 8; i++) {
      h.graph.inject({
        op: 'sendMail',
        mailbox: 'storm@contoso.com',
        status: 429,
        code: 'ApplicationThrottled',
        headers: { 'retry-after': '1' },
      });
    }
    h.graph.inject({
      op: 'sendMail',
      mailbox: 'storm@contoso.com',
      status: 503,
      code: 'ServiceUnavailable',
      times: 3,
    });
    const over = h.graph.stats.overConcurrency;
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send({ from: 'storm@contoso.com', subject: `storm ${i}`, text: 'x' }),
      ),
    );
    await waitFor(
      () => h.graph.delivered.filter((d) => d.subject?.startsWith('storm ')).length === 30 || undefined,
      60_000,
      'storm delivered',
    );
    expect(h.graph.stats.overConcurrency).toBe(over);
    expect(h.graph.stats.maxInFlight.get(`${CLIENT}|storm@contoso.com`)).toBeLessThanOrEqual(4);
  }, 90_000);

  it('survives token expiry mid-run and a Key Vault secret rotation', async () => {
    await send({ subject: 'before rotation', text: 'x' });
    await waitFor(bySubject('before rotation'), 15_000, 'before');
    kv.set('graph-client-secret', 'rotated-in-vault');
    h.entra.rotateSecret(TENANT, CLIENT, 'rotated-in-vault');
    h.entra.expireIssuedTokens(CLIENT);
    await send({ subject: 'after rotation', text: 'x' });
    await waitFor(bySubject('after rotation'), 20_000, 'after');
    // The expired token met a 401 and was replaced; the new one came from the rotated secret (the old
    // one no longer works), whether the periodic Key Vault refresh or Entra's refusal found it first.
    expect(h.graph.stats.unauthorized).toBeGreaterThan(0);
    expect(h.entra.issued.filter((i) => i.clientId === CLIENT).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps delivering with the last good secret while Key Vault is unreachable, and health says so', async () => {
    const credentialHealth = async () =>
      (
        (await app.health()).detail as { credentials: { name: string; stale?: boolean; detail?: string }[] }
      ).credentials.find((c) => c.name === 'graph-secret');
    kv.reachable = false;
    try {
      const stale = await waitFor(
        async () => ((await credentialHealth())?.stale ? await credentialHealth() : undefined),
        10_000,
        'stale',
      );
      expect(stale?.detail).toMatch(/unreachable since/);
      h.entra.expireIssuedTokens(CLIENT);
      await send({ subject: 'vault down', text: 'x' });
      await waitFor(bySubject('vault down'), 20_000, 'delivered while the vault is down');
    } finally {
      kv.reachable = true;
    }
    await waitFor(
      async () => ((await credentialHealth())?.stale === false ? true : undefined),
      10_000,
      'fresh again',
    );
  });

  it('dead-letters a permanent Graph error with the operator hint', async () => {
    await send({
      from: 'ceo@contoso.com',
      envelope: { from: 'scanner@contoso.com', to: ['alice@contoso.com'] },
      subject: 'not mine',
      text: 'x',
    });
    const dead = await waitFor(
      async () => (await app.spool.list('dead')).find((e) => e.header.subject === 'not mine'),
      20_000,
      'dead letter',
    );
    const leg = dead.deliveries[0];
    expect(leg?.status).toBe('dead');
    expect(leg?.deadReason).toContain('RELAY_GRAPH_SEND_AS_DENIED');
    expect(leg?.deadReason).toContain('Add-RecipientPermission');
  });
});
