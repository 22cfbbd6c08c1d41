// Raw client-credentials requests to the Entra simulator, for the simulator self-tests: a token for a
// secret or a certificate-signed client assertion (RS256, x5t#S256), built here by hand so that the
// simulators are checked without msal-node in between.
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { createCloudHttp } from '../../../appliance/src/net/cloud-fetch.ts';
import { testPki } from './pki.ts';

/** fetch that trusts the test CA (the simulators' server certificate). */
export const simFetch = (() => {
  let http: ReturnType<typeof createCloudHttp> | undefined;
  return (input: string | URL, init?: RequestInit) => {
    http ??= createCloudHttp({ caFile: testPki().caFile });
    return http.fetch(String(input), init);
  };
})();

export interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** The access token's claims, when one was issued. */
  readonly claims?: Record<string, unknown>;
  readonly token?: string;
}

export async function requestToken(
  authority: string,
  tenant: string,
  form: Record<string, string>,
): Promise<TokenAnswer> {
  const res = await simFetch(`${authority}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
  });
  const body = (await res.json()) as Record<string, unknown>;
  const token = typeof body.access_token === 'string' ? body.access_token : undefined;
  const claims =
    token === undefined
      ? undefined
      : (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
          string,
          unknown
        >);
  return { status: res.status, body, ...(token === undefined ? {} : { token, claims }) };
}

/** A token for `resource` with a client secret; throws unless Entra issued one. */
export async function secretToken(
  authority: string,
  tenant: string,
  clientId: string,
  secret: string,
  resource: string,
): Promise<string> {
  const r = await requestToken(authority, tenant, {
    client_id: clientId,
    client_secret: secret,
    scope: `${resource}/.default`,
  });
  if (r.token === undefined) throw new Error(`no token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.token;
}

/** A client assertion (RFC 7523) signed with the PEM bundle's key, naming its certificate by x5t#S256. */
export function clientAssertion(pem: string, clientId: string, audience: string, nowMs = Date.now()): string {
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0] ?? '';
  const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0] ?? '';
  const cert = new X509Certificate(certPem);
  const x5t = Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(nowMs / 1000);
  const head = enc({ alg: 'RS256', typ: 'JWT', 'x5t#S256': x5t });
  const body = enc({
    iss: clientId,
    sub: clientId,
    aud: audience,
    jti: randomUUID(),
    nbf: now,
    exp: now + 600,
  });
  const sig = sign('sha256', Buffer.from(`${head}.${body}`), createPrivateKey(keyPem)).toString('base64url');
  return `${head}.${body}.${sig}`;
}
