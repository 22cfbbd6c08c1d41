// The ACS simulator must refuse what the service refuses, or the transport tests prove nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacHeaders } from '../../../../appliance/src/delivery/acs/acs-auth.ts';
import { AcsSimulator } from '../../../helpers/sim/acs.ts';

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
  const res = await fetch(url, {
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
    const poll = await fetch(url, { headers: hmacHeaders('GET', url, '', sim.accessKey, new Date()) });
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
    const noDate = await fetch(url, {
      method: 'POST',
      headers: { authorization: h.authorization ?? '' },
      body,
    });
    expect(noDate.status).toBe(401);
    const isoDate = hmacHeaders('POST', url, body, sim.accessKey, new Date());
    isoDate['x-ms-date'] = new Date().toISOString();
    expect((await fetch(url, { method: 'POST', headers: isoDate, body })).status).toBe(401);
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
