// The verification trigger's dynamic provider against a loopback stand-in for ARM's
// POST {domainId}/initiateVerification (bearer auth, api-version, body checks, 202 + Retry-After,
// 404 for an unknown domain, 429 throttling).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DomainVerificationInputs, domainVerificationProvider } from '../../infra/acs-verification.ts';

const DOMAIN =
  '/subscriptions/2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-relaykit-fabrikam/providers/Microsoft.Communication/emailServices/acs-email-rk-fabrikam/domains/notify.fabrikam.com';
const TYPES = new Set(['Domain', 'SPF', 'DKIM', 'DKIM2', 'DMARC']);

interface Seen {
  path: string;
  type: string;
}
let server: Server;
let endpoint: string;
let seen: Seen[];
let throttleNext = 0;

function armError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-ms-failure-cause': 'gateway', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const url = new URL(req.url ?? '/', 'http://arm');
  if (req.headers.authorization !== 'Bearer good-token') {
    return armError(
      res,
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing or invalid.",
    );
  }
  if (url.searchParams.get('api-version') !== '2025-09-01') {
    return armError(
      res,
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required.',
    );
  }
  const m = /^(.*\/domains\/[^/]+)\/initiateVerification$/.exec(url.pathname);
  if (req.method !== 'POST' || m === null) return armError(res, 404, 'NotFound', 'not found');
  if (m[1] !== DOMAIN) return armError(res, 404, 'ResourceNotFound', `The Resource '${m[1]}' was not found.`);
  let type: unknown;
  try {
    type = (JSON.parse(body) as { verificationType?: unknown }).verificationType;
  } catch {
    type = undefined;
  }
  if (typeof type !== 'string' || !TYPES.has(type)) {
    return armError(
      res,
      400,
      'InvalidRequestContent',
      'verificationType must be Domain, SPF, DKIM, DKIM2 or DMARC',
    );
  }
  if (throttleNext > 0) {
    throttleNext--;
    return armError(res, 429, 'TooManyRequests', 'throttled', { 'retry-after': '1' });
  }
  seen.push({ path: url.pathname, type });
  res.writeHead(202, { location: `http://arm/operations/${seen.length}`, 'retry-after': '60' });
  res.end();
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
  throttleNext = 0;
});

const inputs = (over: Partial<DomainVerificationInputs> = {}): DomainVerificationInputs => ({
  domainId: DOMAIN,
  kinds: ['Domain', 'SPF', 'DKIM', 'DKIM2'],
  armToken: 'good-token',
  armEndpoint: endpoint,
  recordsDigest: 'abc',
  ...over,
});

describe('domainVerificationProvider.create', () => {
  it('asks ARM to verify each record type and keeps the token out of the outputs', async () => {
    const result = await domainVerificationProvider.create(inputs());
    expect(seen.map((s) => s.type)).toEqual(['Domain', 'SPF', 'DKIM', 'DKIM2']);
    expect(new Set(seen.map((s) => s.path))).toEqual(new Set([`${DOMAIN}/initiateVerification`]));
    expect(result).toEqual({
      id: `${DOMAIN}/initiateVerification`,
      outs: { domainId: DOMAIN, kinds: ['Domain', 'SPF', 'DKIM', 'DKIM2'], recordsDigest: 'abc' },
    });
  });

  it('waits out a 429 with Retry-After and carries on', async () => {
    throttleNext = 1;
    await domainVerificationProvider.create(inputs({ kinds: ['Domain'] }));
    expect(seen.map((s) => s.type)).toEqual(['Domain']);
  });

  it('fails with ARM’s status and error for a bad token or an unknown domain', async () => {
    await expect(domainVerificationProvider.create(inputs({ armToken: 'stale' }))).rejects.toThrow(
      `initiateVerification Domain for ${DOMAIN} failed: HTTP 401 {"error":{"code":"AuthenticationFailed"`,
    );
    const other = DOMAIN.replace('notify.fabrikam.com', 'other.fabrikam.com');
    await expect(domainVerificationProvider.create(inputs({ domainId: other }))).rejects.toThrow(
      `failed: HTTP 404 {"error":{"code":"ResourceNotFound"`,
    );
    expect(seen).toEqual([]);
  });
});

describe('domainVerificationProvider.diff', () => {
  it('re-requests verification when the records or the domain change, not otherwise', async () => {
    const diff = domainVerificationProvider.diff as NonNullable<typeof domainVerificationProvider.diff>;
    expect(await diff('id', inputs(), inputs({ armToken: 'new-token' }))).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: true,
    });
    expect(await diff('id', inputs(), inputs({ recordsDigest: 'def' }))).toMatchObject({
      changes: true,
      replaces: ['recordsDigest'],
    });
  });
});
