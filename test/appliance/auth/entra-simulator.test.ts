// The Entra simulator must refuse what Entra refuses, or every token test above it proves nothing:
// wrong secret, unknown app, a tenant the app is not in, a bad scope, a certificate outside its
// validity or not registered; and its verify() must refuse expired, not-yet-valid, revoked, tampered,
// wrong-audience and other-tenant tokens. Codes from Entra's AADSTS reference
// (learn.microsoft.com/entra/identity-platform/reference-error-codes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntraSimulator } from '../../helpers/sim/entra.ts';
import { testPki } from '../../helpers/sim/pki.ts';
import { clientAssertion, requestToken } from '../../helpers/sim/token-client.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER_TENANT = '99999999-2222-3333-4444-555555555555';
const APP = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const CERT_APP = 'cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee';
const GRAPH = 'https://graph.microsoft.com';
const DAY = 86_400_000;

let entra: EntraSimulator;
let cert: { pem: string; certPem: string };
let clock = Date.now();

beforeAll(async () => {
  entra = await EntraSimulator.start();
  entra.now = () => clock;
  entra.registerApp({ tenantId: TENANT, clientId: APP, secrets: ['s3cret'], roles: ['Mail.Send'] });
  cert = testPki().clientCertificate('entra self-test'); // valid from now for 2 days
  entra.registerApp({ tenantId: TENANT, clientId: CERT_APP, certificates: [cert.certPem], roles: [] });
});
afterAll(async () => {
  await entra.close();
});

const secretForm = (over: Record<string, string> = {}) => ({
  client_id: APP,
  client_secret: 's3cret',
  scope: `${GRAPH}/.default`,
  ...over,
});
const aadsts = (body: Record<string, unknown>) => (body.error_codes as number[] | undefined)?.[0];

describe('Entra simulator: token endpoint', () => {
  it('issues a token for a good secret: aud, tid, appid, roles, nbf, exp = lifetime', async () => {
    clock = Date.now();
    const r = await requestToken(entra.url, TENANT, secretForm());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const now = Math.floor(clock / 1000);
    expect(r.claims).toMatchObject({ aud: GRAPH, tid: TENANT, appid: APP, roles: ['Mail.Send'], nbf: now });
    expect(r.claims?.exp).toBe(now + 3600);
  });

  it('refuses a wrong secret (401 invalid_client, AADSTS7000215)', async () => {
    const r = await requestToken(entra.url, TENANT, secretForm({ client_secret: 'wrong' }));
    expect([r.status, r.body.error, aadsts(r.body)]).toEqual([401, 'invalid_client', 7000215]);
  });

  it('refuses an app asked for in a tenant it is not registered in (400, AADSTS700016)', async () => {
    const r = await requestToken(entra.url, OTHER_TENANT, secretForm());
    expect([r.status, r.body.error, aadsts(r.body)]).toEqual([400, 'unauthorized_client', 700016]);
  });

  it('refuses a scope without /.default (AADSTS1002012) and another grant type (AADSTS70003)', async () => {
    const scope = await requestToken(entra.url, TENANT, secretForm({ scope: `${GRAPH}/Mail.Send` }));
    expect([scope.status, scope.body.error, aadsts(scope.body)]).toEqual([400, 'invalid_scope', 1002012]);
    const grant = await requestToken(entra.url, TENANT, secretForm({ grant_type: 'password' }));
    expect([grant.status, grant.body.error, aadsts(grant.body)]).toEqual([
      400,
      'unsupported_grant_type',
      70003,
    ]);
  });

  it('refuses a request with neither secret nor assertion (AADSTS7000218)', async () => {
    const r = await requestToken(entra.url, TENANT, { client_id: APP, scope: `${GRAPH}/.default` });
    expect([r.status, aadsts(r.body)]).toEqual([401, 7000218]);
  });

  describe('certificate credentials', () => {
    const tokenEndpoint = () => `${entra.url}/${TENANT}/oauth2/v2.0/token`;
    const withAssertion = (pem: string, at: number, aud = tokenEndpoint()) =>
      requestToken(entra.url, TENANT, {
        client_id: CERT_APP,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion(pem, CERT_APP, aud, at),
        scope: `${GRAPH}/.default`,
      });

    it('accepts an assertion signed by the registered certificate inside its validity', async () => {
      clock = Date.now();
      const r = await withAssertion(cert.pem, clock);
      expect(r.status).toBe(200);
      expect(r.claims).toMatchObject({ appid: CERT_APP, tid: TENANT });
    });

    it('refuses an expired certificate and a not-yet-valid one (401, AADSTS700027)', async () => {
      clock = Date.now() + 3 * DAY; // the test certificate is valid for 2 days
      const expired = await withAssertion(cert.pem, clock);
      expect([expired.status, aadsts(expired.body)]).toEqual([401, 700027]);
      expect(String(expired.body.error_description)).toContain('expired');
      clock = Date.now() - DAY;
      const early = await withAssertion(cert.pem, clock);
      expect([early.status, aadsts(early.body)]).toEqual([401, 700027]);
      expect(String(early.body.error_description)).toContain('not valid before');
      clock = Date.now();
    });

    it('refuses a certificate that is not registered, and an assertion for another audience', async () => {
      clock = Date.now();
      const stranger = testPki().clientCertificate('not registered');
      const r = await withAssertion(stranger.pem, clock);
      expect([r.status, aadsts(r.body)]).toEqual([401, 700027]);
      const aud = await withAssertion(cert.pem, clock, `${entra.url}/${OTHER_TENANT}/oauth2/v2.0/token`);
      expect([aud.status, aadsts(aud.body)]).toEqual([401, 700027]);
    });
  });
});

describe('Entra simulator: verify() as a resource checks a token', () => {
  async function token(): Promise<string> {
    const r = await requestToken(entra.url, TENANT, secretForm());
    return r.token as string;
  }

  it('accepts its own token for the right audience and tenant', async () => {
    clock = Date.now();
    expect(entra.verify(`Bearer ${await token()}`, GRAPH, TENANT)).toMatchObject({ ok: true });
  });

  it('refuses a wrong audience, another tenant, no token, a tampered signature', async () => {
    clock = Date.now();
    const t = await token();
    expect(entra.verify(`Bearer ${t}`, 'https://vault.azure.net', TENANT)).toEqual({
      ok: false,
      message: 'Invalid audience.',
    });
    expect(entra.verify(`Bearer ${t}`, GRAPH, OTHER_TENANT)).toMatchObject({ ok: false });
    expect(entra.verify(undefined, GRAPH)).toMatchObject({ ok: false, message: 'Access token is empty.' });
    const [h, p] = t.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()),
        roles: ['Mail.ReadWrite'],
      }),
    ).toString('base64url');
    expect(entra.verify(`Bearer ${h}.${forged}.${t.split('.')[2]}`, GRAPH)).toMatchObject({
      ok: false,
      message: 'Signature validation failed.',
    });
  });

  it('refuses an expired token and a not-yet-valid one by its clock', async () => {
    clock = Date.now();
    const t = await token();
    clock += 3600_000;
    expect(entra.verify(`Bearer ${t}`, GRAPH)).toMatchObject({
      ok: false,
      message: expect.stringContaining('expired'),
    });
    clock -= 3600_000 + 60_000;
    expect(entra.verify(`Bearer ${t}`, GRAPH)).toMatchObject({
      ok: false,
      message: expect.stringContaining('not yet valid'),
    });
    clock = Date.now();
  });

  it('refuses revoked tokens at once, and takes a token issued right after', async () => {
    clock = Date.now();
    const before = await token();
    entra.expireIssuedTokens(APP);
    expect(entra.verify(`Bearer ${before}`, GRAPH)).toMatchObject({ ok: false });
    expect(entra.verify(`Bearer ${await token()}`, GRAPH)).toMatchObject({ ok: true });
  });
});
