// Entra ID token endpoint simulator: the tenant's OpenID metadata and the v2.0 token endpoint for the
// client-credentials grant with a client secret or a certificate-signed client assertion (RS256 or
// PS256, x5t / x5t#S256; the certificate must be inside its validity), answering errors in Entra's
// shape (AADSTS codes). Tokens are signed JWTs with aud, tid, appid, roles, nbf and exp; the Graph and
// Key Vault simulators verify them through verify() (audience, lifetime, tenant). Its clock is
// injectable (`now`), so tests move time instead of sleeping. Used by msal-node and @azure/identity through their real code paths (authority config +
// the test CA).
import {
  constants,
  createHmac,
  randomBytes,
  randomUUID,
  verify as verifySig,
  X509Certificate,
} from 'node:crypto';
import { b64url, type HttpsHandle, readBody, sendJson, startHttps } from './https-server.ts';

export interface EntraAppRegistration {
  readonly tenantId: string;
  readonly clientId: string;
  secrets?: string[];
  /** PEM certificates whose private keys may sign client assertions. */
  certificates?: string[];
  /** Application permissions consented for the app (Mail.Send, Mail.ReadWrite, ...). */
  roles?: string[];
}

export interface TokenClaims {
  readonly aud: string;
  readonly tid: string;
  readonly appid: string;
  readonly roles: string[];
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly jti: string;
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: TokenClaims }
  | { readonly ok: false; readonly message: string };

export class EntraSimulator {
  private readonly http: HttpsHandle;
  private readonly key = randomBytes(32);
  private readonly apps = new Map<string, EntraAppRegistration>();
  /** Token lifetime in seconds for tokens issued from now on. */
  tokenLifetimeSec = 3600;
  /** The simulator's clock (epoch ms): tests move it instead of waiting. */
  now: () => number = Date.now;
  /** Token ids (jti) issued so far, by app, and those revoked (they fail as expired). */
  private readonly tokensByApp = new Map<string, string[]>();
  private readonly revoked = new Set<string>();
  /** Every token issued, for assertions (never a token value). */
  readonly issued: { clientId: string; scope: string; at: number; via: 'secret' | 'certificate' }[] = [];
  /** Token requests refused, with the AADSTS code. */
  readonly refused: { clientId: string; code: string }[] = [];
  /**
   * Resource identifiers (App ID URIs) the tenant knows. Empty: any resource is accepted. Otherwise a
   * scope naming another resource gets 400 invalid_resource AADSTS500011, as Entra answers a token
   * request for a gateway's or private endpoint's host name.
   */
  readonly resources = new Set<string>();

  private constructor(http: HttpsHandle) {
    this.http = http;
  }

  static async start(): Promise<EntraSimulator> {
    let sim: EntraSimulator | undefined;
    const http = await startHttps((req, res) => sim?.handle(req, res));
    sim = new EntraSimulator(http);
    return sim;
  }

  /** Authority host for config `cloud.authorityHost`. */
  get url(): string {
    return this.http.url;
  }

  registerApp(app: EntraAppRegistration): void {
    this.apps.set(`${app.tenantId}|${app.clientId}`, app);
  }

  /** Replaces the app's secrets: the old one stops working at once. */
  rotateSecret(tenantId: string, clientId: string, secret: string): void {
    const app = this.apps.get(`${tenantId}|${clientId}`);
    if (app === undefined) throw new Error(`no app ${clientId}`);
    app.secrets = [secret];
  }

  /**
   * Every token issued so far (to one app, or to all) fails verification, as if expired; tokens issued
   * afterwards are good at once (no waiting for the next second).
   */
  expireIssuedTokens(clientId?: string): void {
    for (const [app, ids] of this.tokensByApp) {
      if (clientId === undefined || app === clientId) for (const id of ids) this.revoked.add(id);
    }
  }

  /**
   * Verifies a bearer token as a resource would: signature, lifetime (exp, nbf, revocation), audience
   * and, when given, the tenant the resource belongs to (a token from another tenant is refused).
   */
  verify(authorization: string | undefined, audience: string, tenantId?: string): VerifyResult {
    const m = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (!m?.[1]) return { ok: false, message: 'Access token is empty.' };
    const [h, p, s] = m[1].split('.');
    if (!h || !p || !s) return { ok: false, message: 'IDX14100: JWT is not well formed.' };
    const sig = createHmac('sha256', this.key).update(`${h}.${p}`).digest('base64url');
    if (sig !== s) return { ok: false, message: 'Signature validation failed.' };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    const now = Math.floor(this.now() / 1000);
    if (claims.exp <= now || this.revoked.has(claims.jti)) {
      return { ok: false, message: 'Lifetime validation failed, the token is expired.' };
    }
    if (claims.nbf > now)
      return { ok: false, message: 'Lifetime validation failed, the token is not yet valid.' };
    if (claims.aud !== audience) return { ok: false, message: 'Invalid audience.' };
    if (tenantId !== undefined && claims.tid !== tenantId) {
      return { ok: false, message: `Invalid tenant: the token was issued for tenant ${claims.tid}.` };
    }
    return { ok: true, claims };
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private fail(
    res: Parameters<typeof sendJson>[0],
    status: number,
    error: string,
    aadsts: number,
    text: string,
  ) {
    sendJson(res, status, {
      error,
      error_description: `AADSTS${aadsts}: ${text} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
      error_codes: [aadsts],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    });
  }

  private async handle(
    req: Parameters<Parameters<typeof startHttps>[0]>[0],
    res: Parameters<Parameters<typeof startHttps>[0]>[1],
  ): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const parts = url.pathname.split('/').filter(Boolean);
    const tenant = parts[0] ?? '';
    const base = `${this.url}/${tenant}`;
    if (req.method === 'GET' && parts.slice(1).join('/') === 'v2.0/.well-known/openid-configuration') {
      sendJson(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        issuer: `${base}/v2.0`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
      });
      return;
    }
    if (req.method !== 'POST' || parts.slice(1).join('/') !== 'oauth2/v2.0/token') {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    const body = new URLSearchParams((await readBody(req, 1 << 20))?.toString('utf8') ?? '');
    const clientId = body.get('client_id') ?? '';
    if (body.get('grant_type') !== 'client_credentials') {
      this.fail(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
      return;
    }
    const app = this.apps.get(`${tenant}|${clientId}`);
    if (app === undefined) {
      this.refused.push({ clientId, code: 'AADSTS700016' });
      this.fail(
        res,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      );
      return;
    }
    const scope = body.get('scope') ?? '';
    const resource = /^(.*)\/\.default$/.exec(
      scope.split(' ').find((s) => s.endsWith('/.default')) ?? '',
    )?.[1];
    if (resource === undefined) {
      this.fail(
        res,
        400,
        'invalid_scope',
        1002012,
        'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
      );
      return;
    }
    if (this.resources.size > 0 && !this.resources.has(resource)) {
      this.refused.push({ clientId, code: 'AADSTS500011' });
      this.fail(
        res,
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
      return;
    }
    let via: 'secret' | 'certificate';
    const secret = body.get('client_secret');
    const assertion = body.get('client_assertion');
    if (secret !== null) {
      if (!(app.secrets ?? []).includes(secret)) {
        this.refused.push({ clientId, code: 'AADSTS7000215' });
        this.fail(
          res,
          401,
          'invalid_client',
          7000215,
          'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
        );
        return;
      }
      via = 'secret';
    } else if (assertion !== null) {
      const problem = this.checkAssertion(app, assertion, `${base}/oauth2/v2.0/token`);
      if (problem !== undefined) {
        this.refused.push({ clientId, code: 'AADSTS700027' });
        this.fail(
          res,
          401,
          'invalid_client',
          700027,
          `Client assertion failed signature validation. ${problem}`,
        );
        return;
      }
      via = 'certificate';
    } else {
      this.fail(
        res,
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
      return;
    }
    const now = Math.floor(this.now() / 1000);
    const claims: TokenClaims = {
      aud: resource,
      tid: tenant,
      appid: clientId,
      roles: app.roles ?? [],
      iat: now,
      nbf: now,
      exp: now + this.tokenLifetimeSec,
      jti: randomUUID(),
    };
    const ids = this.tokensByApp.get(clientId) ?? [];
    ids.push(claims.jti);
    this.tokensByApp.set(clientId, ids);
    const h = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
    const p = b64url(JSON.stringify({ ...claims, iss: `https://sts.windows.net/${tenant}/` }));
    const s = createHmac('sha256', this.key).update(`${h}.${p}`).digest('base64url');
    this.issued.push({ clientId, scope, at: this.now(), via });
    sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: this.tokenLifetimeSec,
      ext_expires_in: this.tokenLifetimeSec,
      access_token: `${h}.${p}.${s}`,
    });
  }

  /** Returns why the assertion is bad, or undefined when it is good. */
  private checkAssertion(app: EntraAppRegistration, jwt: string, tokenEndpoint: string): string | undefined {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return 'Malformed JWT.';
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, string>;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const certs = (app.certificates ?? []).map((pem) => new X509Certificate(pem));
    const cert = certs.find((c) => {
      const sha256 = Buffer.from(c.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
      const sha1 = Buffer.from(c.fingerprint.replace(/:/g, ''), 'hex').toString('base64url');
      return header['x5t#S256'] === sha256 || header.x5t === sha1;
    });
    if (cert === undefined) return 'Key was not found (no registered certificate matches x5t).';
    // Entra refuses a key credential outside its validity (the certificate's notBefore / notAfter).
    if (this.now() > cert.validToDate.getTime()) {
      return `The certificate used to sign the client assertion expired on ${cert.validToDate.toISOString()}.`;
    }
    if (this.now() < cert.validFromDate.getTime()) {
      return `The certificate used to sign the client assertion is not valid before ${cert.validFromDate.toISOString()}.`;
    }
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const ok =
      header.alg === 'PS256'
        ? verifySig(
            'sha256',
            data,
            { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
            sig,
          )
        : header.alg === 'RS256'
          ? verifySig('sha256', data, cert.publicKey, sig)
          : false;
    if (!ok) return `Signature (${header.alg}) did not verify.`;
    if (payload.iss !== app.clientId || payload.sub !== app.clientId) return 'iss/sub must be the client id.';
    if (payload.aud !== tokenEndpoint) return `aud must be ${tokenEndpoint}.`;
    if (typeof payload.exp !== 'number' || payload.exp * 1000 < this.now()) return 'Assertion expired.';
    return undefined;
  }
}
