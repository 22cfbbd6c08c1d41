import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routeSchema } from '../../../../appliance/src/config/schema.ts';
import {
  resolveSmtpRoute,
  type SmtpRouteConfig,
} from '../../../../appliance/src/delivery/smtp/smtp-presets.ts';
import { enhancedCode, SmtpTransport } from '../../../../appliance/src/delivery/smtp/smtp-transport.ts';
import type { DeliveryOutcome, TransportDeps } from '../../../../appliance/src/delivery/transport.ts';
import { captureLog } from '../../../helpers/log-capture.ts';
import { createTestPki, type TestPki } from '../../../helpers/pki.ts';
import { SmtpSink, type SmtpSinkOptions } from '../../../helpers/sim/smtp-sink.ts';
import {
  credentialFiles,
  deps,
  type FakeTokens,
  fakeTokens,
  fixture,
  job,
  messageFile,
  TEST_APP,
  tempDir,
} from '../../../helpers/transport-job.ts';

let pki: TestPki;
let sink: SmtpSink | undefined;
let dir: string;

beforeAll(() => {
  pki = createTestPki();
});

afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

function smtpRoute(over: Record<string, unknown> = {}): SmtpRouteConfig {
  const { tls, ...rest } = over;
  return routeSchema.parse({
    name: 'smarthost',
    type: 'smtp',
    host: '127.0.0.1',
    tls: { mode: 'starttls', ca: pki.caPath, ...(tls as object | undefined) },
    connectionTimeout: '5s',
    greetingTimeout: '5s',
    socketTimeout: '5s',
    ...rest,
  }) as SmtpRouteConfig;
}

async function setup(
  sinkOptions: Partial<SmtpSinkOptions> = {},
  routeOver: Record<string, unknown> = {},
  secrets: Record<string, string> = {},
  tokens: FakeTokens = fakeTokens(),
) {
  sink = new SmtpSink({ tls: 'starttls', key: pki.server.key, cert: pki.server.cert, ...sinkOptions });
  const port = await sink.start();
  dir = tempDir();
  const creds = credentialFiles(dir, secrets);
  const d: TransportDeps = deps({ credentials: creds.store, tokens });
  return { transport: new SmtpTransport(smtpRoute({ port, ...routeOver }), d), creds, tokens };
}

const RAW = fixture('multipart-alternative.eml');

describe('SMTP transport: TLS and AUTH', () => {
  it('STARTTLS with a verified certificate and AUTH PLAIN; sends the spooled bytes and the envelope, not the headers', async () => {
    const { transport } = await setup(
      { users: { 'relay@contoso.com': 's3cret' } },
      { auth: { type: 'password', username: 'relay@contoso.com', password: 'smtp-pass' } },
      { 'smtp-pass': 's3cret' },
    );
    const out = await transport.deliver(
      job(messageFile(dir, RAW), {
        mailFrom: 'scanner@contoso.com',
        recipients: ['alice@fabrikam.com', 'dave@fabrikam.com'],
      }),
    );
    expect(out).toMatchObject({ kind: 'delivered' });
    expect(sink!.messages).toHaveLength(1);
    const m = sink!.messages[0]!;
    expect(m.raw.equals(RAW)).toBe(true);
    expect(m.mailFrom).toBe('scanner@contoso.com');
    // dave is only in the envelope (Bcc); carol and bob are in the headers but not in this leg.
    expect(m.rcptTo).toEqual(['alice@fabrikam.com', 'dave@fabrikam.com']);
    expect(m.secure).toBe(true);
    expect(m.user).toBe('relay@contoso.com');
    expect(sink!.authAttempts).toEqual([{ method: 'PLAIN', user: 'relay@contoso.com', ok: true }]);
  });

  it('keeps lines starting with a dot and the null sender intact (dot-stuffing round trip)', async () => {
    const { transport } = await setup();
    const raw = Buffer.from(
      'From: a@contoso.com\r\nTo: b@fabrikam.com\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n',
    );
    const out = await transport.deliver(
      job(messageFile(dir, raw), { mailFrom: '', recipients: ['b@fabrikam.com'] }),
    );
    expect(out.kind).toBe('delivered');
    expect(sink!.messages[0]!.raw.toString()).toBe(raw.toString());
    expect(sink!.messages[0]!.mailFrom).toBe('');
  });

  it('AUTH LOGIN when the route forces it', async () => {
    const { transport } = await setup(
      { users: { relay: 'pw' } },
      { auth: { type: 'password', username: 'relay', password: 'p', method: 'LOGIN' } },
      { p: 'pw' },
    );
    expect((await transport.deliver(job(messageFile(dir, RAW)))).kind).toBe('delivered');
    expect(sink!.authAttempts.map((a) => a.method)).toEqual(['LOGIN']);
  });

  it('implicit TLS (port 465 style)', async () => {
    const { transport } = await setup({ tls: 'implicit' }, { tls: { mode: 'implicit' } });
    expect((await transport.deliver(job(messageFile(dir, RAW)))).kind).toBe('delivered');
    expect(sink!.messages[0]!.secure).toBe(true);
  });

  it('a wrong password is a transient auth failure; the rotated secret is re-read on the next attempt', async () => {
    const { transport, creds } = await setup(
      { users: { relay: 'new-password' } },
      { auth: { type: 'password', username: 'relay', password: 'p' } },
      { p: 'old-password' },
    );
    const first = await transport.deliver(job(messageFile(dir, RAW)));
    expect(first).toMatchObject({ kind: 'transient', code: 'RELAY_SMTP_AUTH_FAILED' });
    expect(first.kind === 'transient' && first.reason).toContain('535 5.7.3');
    expect(transport.health()).toMatchObject({ ok: false, detail: expect.stringContaining('535') });
    creds.write('p', 'new-password');
    expect((await transport.deliver(job(messageFile(dir, RAW)))).kind).toBe('delivered');
    expect(transport.health()).toEqual({ ok: true });
  });

  it.each([
    ['a self-signed certificate', 'selfSigned'],
    ['a certificate for another name', 'wrongName'],
  ] as const)('refuses %s: transient TLS failure, nothing sent', async (_label, which) => {
    const { transport } = await setup({ key: pki[which].key, cert: pki[which].cert });
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_SMTP_TLS' });
    expect(sink!.messages).toHaveLength(0);
  });

  it('refuses a smarthost that offers no STARTTLS when TLS is required', async () => {
    const { transport } = await setup({ tls: 'none' });
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_SMTP_TLS' });
    expect(sink!.messages).toHaveLength(0);
  });

  it('XOAUTH2 with a client-credentials token for the Exchange Online scope; a refused token is refreshed next time', async () => {
    const tokens = fakeTokens('expired-token');
    const { transport } = await setup(
      { tokens: { 'scanner@contoso.com': 'token-2' } },
      {
        preset: 'exo-submission',
        host: '127.0.0.1',
        auth: { type: 'xoauth2', user: 'scanner@contoso.com', app: TEST_APP },
      },
      {},
      tokens,
    );
    const first = await transport.deliver(job(messageFile(dir, RAW)));
    expect(first).toMatchObject({ kind: 'transient', code: 'RELAY_SMTP_AUTH_FAILED' });
    const second = await transport.deliver(job(messageFile(dir, RAW)));
    expect(second.kind).toBe('delivered');
    expect(sink!.messages[0]!.user).toBe('scanner@contoso.com');
    expect(sink!.authAttempts.map((a) => [a.method, a.ok])).toEqual([
      ['XOAUTH2', false],
      ['XOAUTH2', true],
    ]);
    expect(tokens.calls.map((c) => [c.scope, c.forceRefresh])).toEqual([
      ['https://outlook.office365.com/.default', false],
      ['https://outlook.office365.com/.default', true],
    ]);
  });

  it('the acs preset asks for the communication scope', async () => {
    const tokens = fakeTokens('t');
    const { transport } = await setup(
      { tokens: { 'relay-smtp': 't' } },
      { preset: 'acs', auth: { type: 'xoauth2', user: 'relay-smtp', app: TEST_APP } },
      {},
      tokens,
    );
    expect((await transport.deliver(job(messageFile(dir, RAW)))).kind).toBe('delivered');
    expect(tokens.calls[0]!.scope).toBe('https://communication.azure.com/.default');
  });

  it('presents a client certificate to a certificate connector (exo-connector preset); without one the smarthost refuses', async () => {
    const sinkOptions = { clientCa: pki.caCert, requireClientCert: true };
    const { transport } = await setup(
      sinkOptions,
      { preset: 'exo-connector', clientCertificate: 'relay-cert' },
      {
        'relay-cert': `${pki.client.cert}${pki.client.key}`,
      },
    );
    const ok = await transport.deliver(job(messageFile(dir, RAW)));
    expect(ok.kind).toBe('delivered');
    expect(sink!.messages[0]!.clientCn).toBe('relay.contoso.com');
    await sink!.close();

    const { transport: noCert } = await setup(sinkOptions, { preset: 'exo-connector' });
    const refused = await noCert.deliver(job(messageFile(dir, RAW)));
    expect(refused).toMatchObject({ kind: 'transient', code: 'RELAY_SMTP_AUTH_FAILED' });
    expect(sink!.messages).toHaveLength(0);
    await sink!.close();

    const { transport: rogue } = await setup(
      sinkOptions,
      { preset: 'exo-connector', clientCertificate: 'rogue' },
      {
        rogue: `${pki.rogueClient.cert}${pki.rogueClient.key}`,
      },
    );
    expect((await rogue.deliver(job(messageFile(dir, RAW)))).kind).toBe('transient');
    expect(sink!.messages).toHaveLength(0);
  });
});

describe('SMTP transport: logs', () => {
  it('logs each transaction at debug level without the password or token', async () => {
    const { logger, text } = captureLog('debug');
    sink = new SmtpSink({
      tls: 'starttls',
      key: pki.server.key,
      cert: pki.server.cert,
      users: { relay: 'pw-very-secret' },
    });
    const port = await sink.start();
    dir = tempDir();
    const creds = credentialFiles(dir, { p: 'pw-very-secret' });
    const transport = new SmtpTransport(
      smtpRoute({ port, auth: { type: 'password', username: 'relay', password: 'p' } }),
      deps({ credentials: creds.store, logger }),
    );
    expect((await transport.deliver(job(messageFile(dir, RAW)))).kind).toBe('delivered');
    const log = text();
    expect(log).toContain('smtp: transaction');
    expect(log).not.toContain('pw-very-secret');
  });
});

describe('SMTP transport: replies', () => {
  it('reports per-recipient rejections: 550 permanent, 450 transient, the rest delivered', async () => {
    const { transport } = await setup({
      onRcpt: (r) =>
        r.startsWith('gone@')
          ? { code: 550, text: '5.1.1 User unknown' }
          : r.startsWith('busy@')
            ? { code: 450, text: '4.2.1 Mailbox busy, try later' }
            : undefined,
    });
    const out = await transport.deliver(
      job(messageFile(dir, RAW), {
        recipients: ['alice@fabrikam.com', 'gone@fabrikam.com', 'busy@fabrikam.com'],
      }),
    );
    expect(out.kind).toBe('delivered');
    expect(out.kind === 'delivered' && out.failedRecipients).toEqual([
      {
        recipient: 'gone@fabrikam.com',
        outcome: 'permanent',
        code: 'RELAY_SMTP_REJECTED',
        reason: expect.stringContaining('550 5.1.1'),
      },
      {
        recipient: 'busy@fabrikam.com',
        outcome: 'transient',
        code: 'RELAY_DELIVERY_TRANSIENT',
        reason: expect.stringContaining('450 4.2.1'),
      },
    ]);
    expect(sink!.messages[0]!.rcptTo).toEqual(['alice@fabrikam.com']);
  });

  it('every recipient refused for the same reason is that outcome (HVE external recipients: fallback-eligible)', async () => {
    const { transport } = await setup({
      onRcpt: () => ({
        code: 550,
        text: '5.5.105 External sending is not supported for High Volume Email accounts.',
      }),
    });
    const out = await transport.deliver(
      job(messageFile(dir, RAW), { recipients: ['a@gmail.com', 'b@gmail.com'] }),
    );
    expect(out).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_SMTP_EXTERNAL_NOT_ALLOWED',
      fallbackEligible: true,
    });
  });

  it('Direct Send refused by RejectDirectSend is permanent, fallback-eligible, with the connector hint', async () => {
    const { transport } = await setup(
      {
        onMailFrom: () => ({
          code: 550,
          text: '5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources',
        }),
      },
      { preset: 'exo-direct-send' },
    );
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({
      kind: 'permanent',
      code: 'RELAY_SMTP_DIRECT_SEND_REJECTED',
      fallbackEligible: true,
    });
    expect(out.kind === 'permanent' && out.hint).toContain('exo-connector');
  });

  it.each([
    [
      { code: 451, text: '4.3.0 Temporary server error' },
      { kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT' },
    ],
    [
      { code: 554, text: '5.6.0 Content rejected' },
      { kind: 'permanent', code: 'RELAY_SMTP_REJECTED' },
    ],
  ] as const)('a %o after DATA is %o', async (reply, expected) => {
    const { transport } = await setup({ onDataEnd: () => reply });
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject(expected);
  });

  it('a smarthost size refusal (552 5.3.4) is permanent and fallback-eligible', async () => {
    const { transport } = await setup({ size: 200 });
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_SMTP_TOO_LARGE', fallbackEligible: true });
  });

  it('the preset size limit refuses before connecting', async () => {
    const { transport } = await setup({}, { preset: 'hve', host: '127.0.0.1', maxMessageSize: '500B' });
    const out = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_SMTP_TOO_LARGE', fallbackEligible: true });
    expect(sink!.transactions).toBe(0);
  });

  it('splits recipients per transaction at the preset limit', async () => {
    const { transport } = await setup({}, { maxRecipientsPerMessage: 2 });
    const rcpts = ['a@f.com', 'b@f.com', 'c@f.com', 'd@f.com', 'e@f.com'];
    const out = await transport.deliver(job(messageFile(dir, RAW), { recipients: rcpts }));
    expect(out.kind).toBe('delivered');
    expect(sink!.messages.map((m) => m.rcptTo)).toEqual([
      ['a@f.com', 'b@f.com'],
      ['c@f.com', 'd@f.com'],
      ['e@f.com'],
    ]);
  });

  it('a shutdown abort is transient and sends nothing', async () => {
    const { transport } = await setup();
    const ac = new AbortController();
    ac.abort();
    const out = await transport.deliver(job(messageFile(dir, RAW), { signal: ac.signal }));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT' });
    expect(sink!.messages).toHaveLength(0);
  });

  it('a refused connection is a transient network failure', async () => {
    const { transport } = await setup();
    await sink!.close();
    const out: DeliveryOutcome = await transport.deliver(job(messageFile(dir, RAW)));
    expect(out).toMatchObject({ kind: 'transient', code: 'RELAY_NETWORK' });
  });
});

describe('SMTP presets', () => {
  const parse = (over: Record<string, unknown>) =>
    routeSchema.parse({ name: 'r', type: 'smtp', ...over }) as SmtpRouteConfig;

  it('fills host, port and limits from the preset', () => {
    expect(resolveSmtpRoute(parse({ preset: 'acs' }))).toMatchObject({
      host: 'smtp.azurecomm.net',
      port: 587,
      tls: 'starttls',
      maxRecipients: 50,
      maxMessageSize: 10 * 1024 * 1024,
      scope: 'https://communication.azure.com/.default',
    });
    expect(resolveSmtpRoute(parse({ preset: 'hve' }))).toMatchObject({
      host: 'smtp-hve.office365.com',
      port: 587,
    });
    expect(
      resolveSmtpRoute(parse({ preset: 'exo-connector', host: 'contoso-com.mail.protection.outlook.com' })),
    ).toMatchObject({ port: 25, tls: 'starttls' });
    expect(resolveSmtpRoute(parse({ host: 'smtp.example.net', tls: { mode: 'implicit' } }))).toMatchObject({
      port: 465,
    });
  });

  it.each([
    [{ preset: 'exo-connector' }, /host: required for preset exo-connector/],
    [{ preset: 'generic' }, /host: required/],
    [{ host: 'smtp.example.net', tls: { mode: 'none' } }, /tls.mode: none is only allowed for a loopback/],
    [
      {
        preset: 'exo-direct-send',
        host: 'contoso-com.mail.protection.outlook.com',
        auth: { type: 'password', username: 'u', password: 'p' },
      },
      /takes no AUTH/,
    ],
    [
      { preset: 'exo-direct-send', host: 'x.mail.protection.outlook.com', clientCertificate: 'c' },
      /use preset exo-connector/,
    ],
    [
      { host: '127.0.0.1', tls: { mode: 'none' }, auth: { type: 'password', username: 'u', password: 'p' } },
      /AUTH needs TLS/,
    ],
  ])('refuses %o at start', (over, message) => {
    expect(() => resolveSmtpRoute(parse(over))).toThrow(message);
  });

  it('reads the enhanced status code of a reply', () => {
    expect(enhancedCode('550 5.7.68 TenantInboundAttribution; Direct Send not allowed')).toBe('5.7.68');
    expect(enhancedCode('250-2.0.0 ok')).toBe('2.0.0');
    expect(enhancedCode('550 User unknown')).toBeUndefined();
  });
});
