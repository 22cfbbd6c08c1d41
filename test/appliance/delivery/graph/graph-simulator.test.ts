// The Graph simulator must refuse what Graph refuses, or the transport tests prove nothing: tokens
// for another audience or tenant, missing app roles, the 5th concurrent request per app+mailbox (429 +
// Retry-After), the per-mailbox message rate, requests over 4 MB, upload-session rules (Authorization
// header, altered URL, chunk over 4 MB, out-of-order range → 416, expiry) and the 3 MB attachment
// boundary. Limits as ../shared/reference/microsoft-mail-apis.md A2-A5 states them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../helpers/appliance.ts';
import { EntraSimulator } from '../../../helpers/sim/entra.ts';
import { GraphSimulator, graphSizeLimits } from '../../../helpers/sim/graph.ts';
import { secretToken, simFetch } from '../../../helpers/sim/token-client.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER_TENANT = '99999999-2222-3333-4444-555555555555';
const SENDER = 'aaaaaaaa-0000-0000-0000-000000000001'; // Mail.Send only
const WRITER = 'aaaaaaaa-0000-0000-0000-000000000002'; // Mail.Send + Mail.ReadWrite
const NOBODY = 'aaaaaaaa-0000-0000-0000-000000000003'; // no roles
const MAILBOX = 'scanner@contoso.com';

let entra: EntraSimulator;
let graph: GraphSimulator;
let clock = Date.now();
const tokens: Record<string, string> = {};

beforeAll(async () => {
  entra = await EntraSimulator.start();
  entra.now = () => clock;
  for (const [id, roles] of [
    [SENDER, ['Mail.Send']],
    [WRITER, ['Mail.Send', 'Mail.ReadWrite']],
    [NOBODY, []],
  ] as const) {
    entra.registerApp({ tenantId: TENANT, clientId: id, secrets: ['s'], roles: [...roles] });
  }
  entra.registerApp({ tenantId: OTHER_TENANT, clientId: WRITER, secrets: ['s'], roles: ['Mail.Send'] });
  graph = await GraphSimulator.start({
    entra,
    tenantId: TENANT,
    messagesPerMinute: 2,
    mailboxes: [{ address: MAILBOX }, { address: 'paced@contoso.com' }],
  });
  for (const id of [SENDER, WRITER, NOBODY])
    tokens[id] = await secretToken(entra.url, TENANT, id, 's', graph.audience);
});
afterAll(async () => {
  await graph.close();
  await entra.close();
});

const mime = (from: string) =>
  Buffer.from(`From: ${from}\r\nTo: a@contoso.com\r\nSubject: s\r\n\r\nbody\r\n`).toString('base64');
const MIME = mime(MAILBOX);

async function call(
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: string | Buffer;
    type?: string;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  } = {},
) {
  const url = path.startsWith('https://') ? path : `${graph.baseUrl}${path}`;
  const res = await simFetch(url, {
    method,
    headers: {
      ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      ...(opts.type === undefined ? {} : { 'content-type': opts.type }),
      ...opts.headers,
    },
    ...(opts.body === undefined ? {} : { body: opts.body }),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const text = await res.text();
  const json = text.startsWith('{')
    ? (JSON.parse(text) as { error?: { code?: string } } & Record<string, unknown>)
    : {};
  return { status: res.status, code: json.error?.code, json, headers: res.headers };
}

const sendMail = (token: string | undefined, mailbox = MAILBOX) =>
  call('POST', `/users/${mailbox}/sendMail`, {
    ...(token === undefined ? {} : { token }),
    body: mime(mailbox),
    type: 'text/plain',
  });

async function draft(): Promise<string> {
  const r = await call('POST', `/users/${MAILBOX}/messages`, {
    token: tokens[WRITER],
    body: JSON.stringify({ subject: 'd', toRecipients: [{ emailAddress: { address: 'a@contoso.com' } }] }),
    type: 'application/json',
  });
  expect(r.status).toBe(201);
  return r.json.id as string;
}

async function session(size: number): Promise<{ status: number; code?: string; uploadUrl: string }> {
  const id = await draft();
  const r = await call('POST', `/users/${MAILBOX}/messages/${id}/attachments/createUploadSession`, {
    token: tokens[WRITER],
    body: JSON.stringify({ AttachmentItem: { attachmentType: 'file', name: 'big.bin', size } }),
    type: 'application/json',
  });
  return { status: r.status, ...(r.code ? { code: r.code } : {}), uploadUrl: String(r.json.uploadUrl ?? '') };
}

const put = (url: string, body: Buffer, range: string, headers: Record<string, string> = {}) =>
  call('PUT', url, {
    body,
    type: 'application/octet-stream',
    headers: { 'content-range': range, ...headers },
  });

describe('Graph simulator: who may call', () => {
  it('accepts a Mail.Send token for sendMail (202)', async () => {
    expect((await sendMail(tokens[SENDER])).status).toBe(202);
  });

  it('refuses no token, a token for another audience and one for another tenant (401)', async () => {
    expect(await sendMail(undefined)).toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
    const vault = await secretToken(entra.url, TENANT, WRITER, 's', 'https://vault.azure.net');
    expect(await sendMail(vault)).toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
    const foreign = await secretToken(entra.url, OTHER_TENANT, WRITER, 's', graph.audience);
    expect(await sendMail(foreign)).toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
  });

  it('refuses an app without Mail.Send (403) and drafts without Mail.ReadWrite (403)', async () => {
    expect(await sendMail(tokens[NOBODY])).toMatchObject({ status: 403, code: 'ErrorAccessDenied' });
    const r = await call('POST', `/users/${MAILBOX}/messages`, {
      token: tokens[SENDER],
      body: JSON.stringify({ subject: 'd' }),
      type: 'application/json',
    });
    expect(r).toMatchObject({ status: 403, code: 'ErrorAccessDenied' });
  });

  it('refuses an expired token by its clock (401)', async () => {
    clock += 3600_000;
    try {
      expect(await sendMail(tokens[SENDER])).toMatchObject({
        status: 401,
        code: 'InvalidAuthenticationToken',
      });
    } finally {
      clock -= 3600_000;
    }
  });
});

describe('Graph simulator: throttling', () => {
  it('answers the 5th concurrent request of one app+mailbox with 429 and Retry-After, and counts it', async () => {
    const key = `${WRITER}|${MAILBOX}`;
    for (let i = 0; i < 4; i++) graph.inject({ op: 'sendMail', mailbox: MAILBOX, hang: true });
    const abort = new AbortController();
    const held = Array.from({ length: 4 }, () =>
      call('POST', `/users/${MAILBOX}/sendMail`, {
        token: tokens[WRITER] as string,
        body: MIME,
        type: 'text/plain',
        signal: abort.signal,
      }).catch(() => undefined),
    );
    await waitFor(() => (graph.stats.maxInFlight.get(key) === 4 ? true : undefined), 10_000, '4 in flight');
    const over = graph.stats.overConcurrency;
    const fifth = await sendMail(tokens[WRITER]);
    expect(fifth).toMatchObject({ status: 429, code: 'ApplicationThrottled' });
    expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(graph.stats.overConcurrency).toBe(over + 1);
    abort.abort();
    await Promise.all(held);
    // Once they are gone the mailbox takes requests again.
    await waitFor(async () => ((await sendMail(tokens[WRITER])).status === 202 ? true : undefined), 10_000);
    expect(graph.stats.maxInFlight.get(key)).toBe(4);
  });

  it('answers past the per-mailbox message rate with 429 and a Retry-After within the minute', async () => {
    clock = Date.now();
    expect((await sendMail(tokens[SENDER], 'paced@contoso.com')).status).toBe(202);
    expect((await sendMail(tokens[SENDER], 'paced@contoso.com')).status).toBe(202);
    const third = await sendMail(tokens[SENDER], 'paced@contoso.com');
    expect(third).toMatchObject({ status: 429, code: 'ApplicationThrottled' });
    const wait = Number(third.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    clock += 61_000;
    expect((await sendMail(tokens[SENDER], 'paced@contoso.com')).status).toBe(202);
  });
});

describe('Graph simulator: sizes and upload sessions', () => {
  const L = graphSizeLimits(1024 * 1024);

  it('reads "MB" either way as asked, never both at once', () => {
    expect(graphSizeLimits(1_000_000)).toMatchObject({
      request: 4_000_000,
      directAttachmentBelow: 3_000_000,
      uploadSessionFrom: 3_000_000,
      uploadSessionUpTo: 150_000_000,
      chunk: 4_000_000,
    });
    expect(L).toMatchObject({
      request: 4_194_304,
      directAttachmentBelow: 3_145_728,
      uploadSessionFrom: 3_145_728,
      uploadSessionUpTo: 157_286_400,
      chunk: 4_194_304,
    });
  });

  it('refuses a request body over 4 MB with 413', async () => {
    const big = Buffer.alloc(L.request + 1, 0x41).toString('latin1');
    expect(
      await call('POST', `/users/${MAILBOX}/sendMail`, {
        token: tokens[SENDER],
        body: big,
        type: 'text/plain',
      }),
    ).toMatchObject({ status: 413 });
  });

  it('takes direct attachments under 3 MB only, and sessions from 3 MB to 150 MB only', async () => {
    const id = await draft();
    const attach = (size: number) =>
      call('POST', `/users/${MAILBOX}/messages/${id}/attachments`, {
        token: tokens[WRITER],
        body: JSON.stringify({
          '@odata.type': '#microsoft.graph.fileAttachment',
          name: 'a.bin',
          contentBytes: Buffer.alloc(size).toString('base64'),
        }),
        type: 'application/json',
      });
    expect((await attach(2_000_000)).status).toBe(201);
    expect((await attach(L.directAttachmentBelow)).status).not.toBe(201);
    expect(await session(L.uploadSessionFrom - 1)).toMatchObject({
      status: 400,
      code: 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize',
    });
    expect(await session(L.uploadSessionUpTo + 1)).toMatchObject({ status: 400 });
    expect((await session(L.uploadSessionFrom)).status).toBe(201);
  });

  it('upload URL: refuses an Authorization header, an altered URL, a chunk over 4 MB and an out-of-order range', async () => {
    const size = 5_000_000;
    const { uploadUrl } = await session(size);
    expect(new URL(uploadUrl).origin).toBe(new URL(graph.baseUrl).origin);
    const first = Buffer.alloc(1_000_000, 1);
    const withAuth = await put(uploadUrl, first, `bytes 0-999999/${size}`, {
      authorization: `Bearer ${tokens[WRITER]}`,
    });
    expect(withAuth.status).toBe(400);
    const altered = uploadUrl.replace(/authtoken=[^&]+/, 'authtoken=forged');
    expect((await put(altered, first, `bytes 0-999999/${size}`)).status).toBe(401);
    const tooBig = Buffer.alloc(L.chunk + 1, 1);
    expect((await put(uploadUrl, tooBig, `bytes 0-${L.chunk}/${size}`)).status).toBe(413);
    expect((await put(uploadUrl, first, `bytes 1000000-1999999/${size}`)).status).toBe(416);
    const ok = await put(uploadUrl, first, `bytes 0-999999/${size}`);
    expect(ok.status).toBe(200);
    expect(ok.json.nextExpectedRanges).toEqual(['1000000-']);
    // The same range again is out of order now.
    expect((await put(uploadUrl, first, `bytes 0-999999/${size}`)).status).toBe(416);
  });

  it('forgets an upload session past its expiry (404)', async () => {
    clock = Date.now();
    const { uploadUrl } = await session(L.uploadSessionFrom);
    clock += 16 * 60_000; // default session lifetime: 15 min
    try {
      expect((await put(uploadUrl, Buffer.alloc(10), `bytes 0-9/${L.uploadSessionFrom}`)).status).toBe(404);
    } finally {
      clock = Date.now();
    }
  });
});
