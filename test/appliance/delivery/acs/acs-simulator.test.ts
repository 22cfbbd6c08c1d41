// The ACS simulator must refuse what the service refuses, or the transport tests prove nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacHeaders } from '../../../../appliance/src/delivery/acs/acs-auth.ts';
import { AcsSimulator } from '../../../helpers/sim/acs.ts';
import { EntraSimulator } from '../../../helpers/sim/entra.ts';
import { secretToken, simFetch } from '../../../helpers/sim/token-client.ts';

let sim: AcsSimulator;

beforeEach(async () => {
  sim = new AcsSimulator({ senders: ['DoNotReply@contoso.com'] });
  await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function message(over: Record<string, unknown> = {}) {
  return {
    senderAddress: 'DoNotReply@contoso.com',
    content: { subject: 's', plainText: 'x' },
    recipients: { to: [{ address: 'a@fabrikam.com' }] },
    ...over,
  };
}

async function send(body: unknown, apiVersion = '2025-09-01', extra: Record<string, string> = {}) {
  const url = new URL(`${sim.endpoint}/emails:send?api-version=${apiVersion}`);
  const text = JSON.stringify(body);
  const res = await simFetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...hmacHeaders('POST', url, text, sim.accessKey, new Date()),
      ...extra,
    },
    body: text,
  });
  return { status: res.status, code: res.headers.get('x-ms-error-code'), res };
}

describe('ACS simulator', () => {
  it('accepts a valid request with 202, Operation-Location and a Running operation that then succeeds', async () => {
    const { status, res } = await send(message(), '2025-09-01', {
      'operation-id': '0f8fad5b-d9cb-469f-a165-70867728950e',
    });
    expect(status).toBe(202);
    expect(await res.json()).toEqual({ id: '0f8fad5b-d9cb-469f-a165-70867728950e', status: 'Running' });
    const url = new URL(
      `${sim.endpoint}/emails/operations/0f8fad5b-d9cb-469f-a165-70867728950e?api-version=2025-09-01`,
    );
    const poll = await simFetch(url, { headers: hmacHeaders('GET', url, '', sim.accessKey, new Date()) });
    expect(await poll.json()).toEqual({ id: '0f8fad5b-d9cb-469f-a165-70867728950e', status: 'Succeeded' });
  });

  it('refuses 51 recipients, a missing `to`, an empty recipient list and an unprovisioned sender', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ address: `u${i}@fabrikam.com` }));
    expect((await send(message({ recipients: { to: many.slice(0, 20), bcc: many.slice(20) } }))).status).toBe(
      400,
    );
    expect((await send(message({ recipients: { bcc: [{ address: 'a@b.c' }] } }))).status).toBe(400);
    expect((await send(message({ recipients: { to: [] } }))).status).toBe(400);
    expect(await send(message({ senderAddress: 'x@unlinked.example' }))).toMatchObject({
      status: 400,
      code: 'DomainNotLinked',
    });
    expect(await send(message({ senderAddress: 'other@contoso.com' }))).toMatchObject({
      status: 400,
      code: 'InvalidSenderUserName',
    });
    expect(sim.sent).toHaveLength(0);
  });

  it('refuses contentId before 2025-09-01-era versions, duplicate contentIds and empty header values', async () => {
    const att = { name: 'a.png', contentType: 'image/png', contentInBase64: 'AAAA', contentId: 'logo' };
    expect((await send(message({ attachments: [att] }), '2023-03-31')).status).toBe(400);
    expect((await send(message({ attachments: [att, att] }))).status).toBe(400);
    expect((await send(message({ headers: { 'X-Empty': '' } }))).status).toBe(400);
    expect((await send(message({ attachments: [att] }))).status).toBe(202);
  });

  it('refuses an unsupported api-version and a request over 10 MB (413)', async () => {
    expect((await send(message(), '2021-10-01-preview')).status).toBe(400);
    const big = message({
      attachments: [
        {
          name: 'b.bin',
          contentType: 'application/octet-stream',
          contentInBase64: 'A'.repeat(10 * 1024 * 1024),
        },
      ],
    });
    expect(await send(big)).toMatchObject({ status: 413 });
  });

  it('refuses missing signing headers and a date that is not RFC 1123', async () => {
    const url = new URL(`${sim.endpoint}/emails:send?api-version=2025-09-01`);
    const body = JSON.stringify(message());
    const h = hmacHeaders('POST', url, body, sim.accessKey, new Date());
    const noDate = await simFetch(url, {
      method: 'POST',
      headers: { authorization: h.authorization ?? '' },
      body,
    });
    expect(noDate.status).toBe(401);
    const isoDate = hmacHeaders('POST', url, body, sim.accessKey, new Date());
    isoDate['x-ms-date'] = new Date().toISOString();
    expect((await simFetch(url, { method: 'POST', headers: isoDate, body })).status).toBe(401);
  });

  it('answers the 31st send within a minute with 429 and a Retry-After in seconds', async () => {
    for (let i = 0; i < 30; i++) expect((await send(message())).status).toBe(202);
    const r = await send(message());
    expect(r.status).toBe(429);
    expect(Number(r.res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(r.res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('treats a repeated Operation-Id as the same send', async () => {
    const id = { 'operation-id': '7c9e6679-7425-40de-944b-e07fc1f90ae7' };
    expect((await send(message(), '2025-09-01', id)).status).toBe(202);
    expect((await send(message(), '2025-09-01', id)).status).toBe(202);
    expect(sim.sent).toHaveLength(1);
    expect(sim.repeatedOperationIds).toBe(1);
  });
});

describe('ACS simulator: Entra bearer tokens', () => {
  const TENANT = '11111111-2222-3333-4444-555555555555';
  const APP = 'dddddddd-0000-0000-0000-000000000001';
  const NO_ROLE = 'dddddddd-0000-0000-0000-000000000002';
  let entra: EntraSimulator;
  let clock = Date.now();
  let bearerSim: AcsSimulator;

  beforeEach(async () => {
    entra = await EntraSimulator.start();
    entra.now = () => clock;
    for (const [tenant, id] of [
      [TENANT, APP],
      [TENANT, NO_ROLE],
      ['99999999-2222-3333-4444-555555555555', APP],
    ] as const) {
      entra.registerApp({ tenantId: tenant, clientId: id, secrets: ['s'] });
    }
    bearerSim = new AcsSimulator({
      senders: ['DoNotReply@contoso.com'],
      entra,
      tenantId: TENANT,
      roleHolders: new Set([APP]),
    });
    await bearerSim.start();
  });
  afterEach(async () => {
    await bearerSim.close();
    await entra.close();
  });

  async function sendWith(token: string) {
    const res = await simFetch(`${bearerSim.endpoint}/emails:send?api-version=2025-09-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(message()),
    });
    return res.status;
  }
  // The Communication data plane's resource (reference B2).
  const ACS = 'https://communication.azure.com';

  it('accepts a token for https://communication.azure.com from an app holding a role (202)', async () => {
    expect(await sendWith(await secretToken(entra.url, TENANT, APP, 's', ACS))).toBe(202);
    expect(bearerSim.sent.map((s) => s.auth)).toEqual(['bearer']);
  });

  it('refuses a token for another audience, another tenant, an expired one (401) and an app without a role (403)', async () => {
    clock = Date.now();
    expect(
      await sendWith(await secretToken(entra.url, TENANT, APP, 's', 'https://graph.microsoft.com')),
    ).toBe(401);
    expect(
      await sendWith(await secretToken(entra.url, '99999999-2222-3333-4444-555555555555', APP, 's', ACS)),
    ).toBe(401);
    const t = await secretToken(entra.url, TENANT, APP, 's', ACS);
    clock += 2 * 3600_000;
    expect(await sendWith(t)).toBe(401);
    clock = Date.now();
    expect(await sendWith(await secretToken(entra.url, TENANT, NO_ROLE, 's', ACS))).toBe(403);
    expect(await sendWith('not-a-jwt')).toBe(401);
    expect(bearerSim.sent).toHaveLength(0);
  });

  it('refuses bearer tokens on a resource without Entra auth, and plain http', async () => {
    expect(await sendWithout()).toBe(401);
    await expect(fetch(sim.endpoint.replace('https:', 'http:'))).rejects.toThrow();
    async function sendWithout() {
      const res = await simFetch(`${sim.endpoint}/emails:send?api-version=2025-09-01`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await secretToken(entra.url, TENANT, APP, 's', ACS)}`,
        },
        body: JSON.stringify(message()),
      });
      return res.status;
    }
  });
});
