// The Key Vault simulator must refuse what Key Vault refuses, or the credential tests prove nothing:
// no api-version (400), no token (401 with the challenge naming authority and resource), a token for
// another audience or tenant (401), an expired token (401), a caller without a data-plane role (403
// ForbiddenByRbac), an unknown secret (404); and it serves versions. Shapes from the Key Vault REST
// reference (learn.microsoft.com/rest/api/keyvault/secrets/get-secret) and the authentication doc
// (learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntraSimulator } from '../../helpers/sim/entra.ts';
import { KeyVaultSimulator } from '../../helpers/sim/keyvault.ts';
import { secretToken, simFetch } from '../../helpers/sim/token-client.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER_TENANT = '99999999-2222-3333-4444-555555555555';
const READER = 'bbbbbbbb-0000-0000-0000-000000000001';
const STRANGER = 'bbbbbbbb-0000-0000-0000-000000000002';
const VAULT = 'https://vault.azure.net';

let entra: EntraSimulator;
let kv: KeyVaultSimulator;
let clock = Date.now();

beforeAll(async () => {
  entra = await EntraSimulator.start();
  entra.now = () => clock;
  entra.registerApp({ tenantId: TENANT, clientId: READER, secrets: ['s'] });
  entra.registerApp({ tenantId: TENANT, clientId: STRANGER, secrets: ['s'] });
  entra.registerApp({ tenantId: OTHER_TENANT, clientId: READER, secrets: ['s'] });
  kv = await KeyVaultSimulator.start(entra, TENANT);
  kv.readers.add(READER);
});
afterAll(async () => {
  await kv.close();
  await entra.close();
});

async function get(path: string, token?: string) {
  const res = await simFetch(`${kv.url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as {
    value?: string;
    id?: string;
    error?: { code?: string; innererror?: { code?: string } };
  };
  return { status: res.status, body, challenge: res.headers.get('www-authenticate') };
}

const token = (client = READER, tenant = TENANT, resource = VAULT) =>
  secretToken(entra.url, tenant, client, 's', resource);

describe('Key Vault simulator', () => {
  it('is reached by a vault.azure.net name on loopback', () => {
    expect(new URL(kv.url).hostname).toBe('relaykit-test.vault.azure.net');
  });

  it('serves the current secret and a named version to a reader', async () => {
    const v1 = kv.set('app-secret', 'one');
    kv.set('app-secret', 'two');
    const t = await token();
    const current = await get('/secrets/app-secret?api-version=7.5', t);
    expect(current.status).toBe(200);
    expect(current.body.value).toBe('two');
    expect(current.body.id).toMatch(
      /^https:\/\/relaykit-test\.vault\.azure\.net:\d+\/secrets\/app-secret\/[0-9a-f]{32}$/,
    );
    expect((await get(`/secrets/app-secret/${v1}?api-version=7.5`, t)).body.value).toBe('one');
  });

  it('refuses a request without api-version (400)', async () => {
    expect((await get('/secrets/app-secret', await token())).status).toBe(400);
  });

  it('answers a request without a token with 401 and the challenge', async () => {
    const r = await get('/secrets/app-secret?api-version=7.5');
    expect(r.status).toBe(401);
    expect(r.challenge).toBe(
      `Bearer authorization="${entra.url}/${TENANT}", resource="https://vault.azure.net"`,
    );
  });

  it('refuses a token for another audience, another tenant, or expired (401)', async () => {
    clock = Date.now();
    const graph = await token(READER, TENANT, 'https://graph.microsoft.com');
    expect((await get('/secrets/app-secret?api-version=7.5', graph)).status).toBe(401);
    const foreign = await token(READER, OTHER_TENANT);
    expect((await get('/secrets/app-secret?api-version=7.5', foreign)).status).toBe(401);
    const t = await token();
    clock += 3600_000;
    try {
      expect((await get('/secrets/app-secret?api-version=7.5', t)).status).toBe(401);
    } finally {
      clock = Date.now();
    }
  });

  it('refuses a caller without a data-plane role (403 ForbiddenByRbac)', async () => {
    const r = await get('/secrets/app-secret?api-version=7.5', await token(STRANGER));
    expect(r.status).toBe(403);
    expect(r.body.error?.innererror?.code).toBe('ForbiddenByRbac');
  });

  it('answers 404 SecretNotFound for an unknown secret', async () => {
    const r = await get('/secrets/nope?api-version=7.5', await token());
    expect([r.status, r.body.error?.code]).toEqual([404, 'SecretNotFound']);
  });

  it('drops connections while unreachable', async () => {
    kv.reachable = false;
    try {
      await expect(get('/secrets/app-secret?api-version=7.5')).rejects.toThrow();
    } finally {
      kv.reachable = true;
    }
  });
});
