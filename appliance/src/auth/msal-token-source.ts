// Client-credentials tokens from Entra ID through @azure/msal-node (issue 4). One confidential client
// per (authority, tenant, app, credential); each TokenSource caches a token per scope and refreshes it
// ahead of expiry, with one request in flight per scope however many deliveries ask at once. The
// credential (secret or certificate PEM) comes from the CredentialStore: when Entra says the credential
// is wrong, the store is told to re-read it (a rotated Key Vault secret) and the request is tried once
// more. HTTP goes through the injected fetch (proxy, CAs) with a timeout on every request.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type {
  ConfidentialClientApplication,
  INetworkModule,
  NetworkRequestOptions,
  NetworkResponse,
} from '@azure/msal-node';
import type { CredentialStore } from '../credentials/store.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { pemCertificateBlocks, pemPrivateKeyBlock } from '../pem.ts';
import type {
  AppCredentialConfig,
  TokenRequestOptions,
  TokenSource,
  TokenSourceFactory,
} from './token-source.ts';

export interface MsalTokenDeps {
  readonly credentials: CredentialStore;
  readonly fetch: typeof globalThis.fetch;
  readonly logger: Logger;
  readonly now: () => number;
  /** Default authority host when the app config names none. */
  readonly authorityHost: string;
  readonly requestTimeoutMs: number;
}

type Msal = typeof import('@azure/msal-node');
/**
 * msal-node and what it brings (jsonwebtoken, semver: ~450 KB of script) load with the first
 * confidential client, not at start: a relay with no cloud route never needs them, and one with a
 * Graph route gets its SMTP listeners up first (issue 18: start time under emulation).
 */
let msal: Msal | undefined;
async function loadMsal(): Promise<Msal> {
  msal ??= await import('@azure/msal-node');
  return msal;
}

/** Refresh this long before expiry, or at three quarters of a short token's life. */
const REFRESH_AHEAD_MS = 5 * 60_000;

/** msal warnings that are routine for app-only tokens: logged at debug, not warn. */
const MSAL_CHATTER = /No client info in response/i;

/** AADSTS codes meaning "the credential you presented is wrong": re-read it before giving up. */
const CREDENTIAL_ERRORS = ['7000215', '7000222', '700027', '700024', '7000274'];

function networkModule(fetch: typeof globalThis.fetch, timeoutMs: number): INetworkModule {
  const send = async <T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> => {
    const res = await fetch(url, {
      method,
      headers: options?.headers ?? {},
      ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
      signal: AbortSignal.timeout(timeout ?? timeoutMs),
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return { headers, body: (await res.json()) as T, status: res.status };
  };
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

interface CertificateCredential {
  readonly privateKey: string;
  readonly thumbprintSha256: string;
}

/** Splits a PEM bundle (certificate + private key) into what MSAL needs. */
export function parseCertificatePem(pem: string, name: string): CertificateCredential {
  const certBlock = pemCertificateBlocks(pem)[0];
  const key = pemPrivateKeyBlock(pem);
  const keyBlock = key === undefined || key.label === 'ENCRYPTED PRIVATE KEY' ? undefined : key.text;
  if (certBlock === undefined || keyBlock === undefined) {
    throw new RelayError(
      'RELAY_CREDENTIAL_UNAVAILABLE',
      `credential "${name}" must be a PEM file with a CERTIFICATE and an unencrypted PRIVATE KEY block`,
    );
  }
  const cert = new X509Certificate(certBlock);
  const privateKey = createPrivateKey(keyBlock).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { privateKey, thumbprintSha256: cert.fingerprint256.replace(/:/g, '') };
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly refreshAt: number;
}

export class MsalTokenSource implements TokenSource {
  private readonly app: AppCredentialConfig;
  private readonly deps: MsalTokenDeps;
  private client: { readonly credential: string; readonly cca: ConfidentialClientApplication } | undefined;
  private readonly cache = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();
  /** Tokens fetched from Entra (not served from cache), for health and tests. */
  acquired = 0;

  constructor(app: AppCredentialConfig, deps: MsalTokenDeps) {
    if ((app.clientSecret === undefined) === (app.clientCertificate === undefined)) {
      throw new RelayError(
        'RELAY_CONFIG_INVALID',
        `app ${app.clientId}: set exactly one of clientSecret or clientCertificate`,
      );
    }
    this.app = app;
    this.deps = deps;
  }

  async getToken(scope: string, options: TokenRequestOptions = {}): Promise<string> {
    const now = this.deps.now();
    const cached = this.cache.get(scope);
    if (!options.forceRefresh && cached !== undefined && now < cached.refreshAt) return cached.token;
    let pending = this.inflight.get(scope);
    if (pending === undefined) {
      pending = this.acquire(scope, options.forceRefresh === true).finally(() => this.inflight.delete(scope));
      this.inflight.set(scope, pending);
    }
    try {
      return await pending;
    } catch (err) {
      // A refresh ahead of expiry that fails still leaves a usable token.
      if (!options.forceRefresh && cached !== undefined && this.deps.now() < cached.expiresAt - 30_000) {
        this.deps.logger.warn(
          { err, clientId: this.app.clientId },
          'token refresh failed; using cached token',
        );
        return cached.token;
      }
      throw err;
    }
  }

  private credentialName(): string {
    return (this.app.clientSecret ?? this.app.clientCertificate) as string;
  }

  private async confidentialClient(): Promise<ConfidentialClientApplication> {
    const name = this.credentialName();
    const credential = await this.deps.credentials.get(name);
    if (this.client?.credential === credential) return this.client.cca;
    const host = (this.app.authorityHost ?? this.deps.authorityHost).replace(/\/+$/, '');
    const logger = this.deps.logger;
    const { ConfidentialClientApplication, LogLevel } = await loadMsal();
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: this.app.clientId,
        authority: `${host}/${this.app.tenantId}`,
        // Known authority: skip instance discovery and read the tenant's OpenID metadata directly.
        knownAuthorities: [new URL(host).host],
        ...(this.app.clientSecret !== undefined
          ? { clientSecret: credential }
          : { clientCertificate: parseCertificatePem(credential, name) }),
      },
      system: {
        networkClient: networkModule(this.deps.fetch, this.deps.requestTimeoutMs),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            // Client credentials never carry client info; msal warns about it on every token.
            if (level <= LogLevel.Warning && !MSAL_CHATTER.test(message))
              logger.warn({ msal: true }, message);
            else logger.debug({ msal: true }, message);
          },
        },
      },
    });
    this.client = { credential, cca };
    return cca;
  }

  private async acquire(scope: string, force: boolean): Promise<string> {
    try {
      return await this.request(scope, force);
    } catch (err) {
      if (!isCredentialError(err)) throw toRelayError(err, this.app);
      // The secret or certificate may have been rotated: re-read it and try once more.
      this.deps.credentials.invalidate(this.credentialName());
      this.deps.logger.warn(
        { clientId: this.app.clientId, credential: this.credentialName() },
        'Entra refused the credential; re-reading it',
      );
      try {
        return await this.request(scope, true);
      } catch (again) {
        throw toRelayError(again, this.app);
      }
    }
  }

  private async request(scope: string, force: boolean): Promise<string> {
    const cca = await this.confidentialClient();
    const started = this.deps.now();
    const result = await cca.acquireTokenByClientCredential({ scopes: [scope], skipCache: force });
    if (result === null) throw new RelayError('RELAY_TOKEN_FAILED', 'Entra returned no token');
    this.acquired += 1;
    const expiresAt = result.expiresOn?.getTime() ?? started + 3_600_000;
    const life = Math.max(0, expiresAt - started);
    const refreshAt = expiresAt - Math.min(REFRESH_AHEAD_MS, life / 4);
    this.cache.set(scope, { token: result.accessToken, expiresAt, refreshAt });
    return result.accessToken;
  }
}

/** An msal AuthError (only msal, loaded by then, throws one). */
function isAuthError(err: unknown): err is InstanceType<Msal['AuthError']> {
  return msal !== undefined && err instanceof msal.AuthError;
}

function isCredentialError(err: unknown): boolean {
  if (!isAuthError(err)) return false;
  if (err.errorCode === 'invalid_client') return true;
  return CREDENTIAL_ERRORS.some((c) => err.errorMessage.includes(`AADSTS${c}`));
}

function toRelayError(err: unknown, app: AppCredentialConfig): RelayError {
  if (err instanceof RelayError) return err;
  if (isAuthError(err)) {
    const aadsts = /AADSTS\d+/.exec(err.errorMessage)?.[0];
    const hint =
      err.errorCode === 'invalid_client'
        ? 'check the client secret or certificate of the app registration (expired or rotated?)'
        : aadsts === 'AADSTS700016'
          ? 'the app is not registered in this tenant: check tenantId/clientId and admin consent'
          : aadsts === 'AADSTS500011'
            ? 'Entra knows no resource by the token scope; behind a gateway or private endpoint set the ' +
              'scope explicitly (cloud.graphScope, the ACS route auth.scope, keyVault.scope)'
            : undefined;
    return new RelayError(
      'RELAY_TOKEN_FAILED',
      `token for app ${app.clientId} in tenant ${app.tenantId}: ${err.errorCode}${aadsts ? ` ${aadsts}` : ''}${hint ? ` (${hint})` : ''}`,
      { cause: err },
    );
  }
  return new RelayError(
    'RELAY_TOKEN_FAILED',
    `token for app ${app.clientId}: ${(err as Error)?.message ?? String(err)}`,
    { cause: err },
  );
}

export class MsalTokenSourceFactory implements TokenSourceFactory {
  private readonly deps: MsalTokenDeps;
  private readonly sources = new Map<string, MsalTokenSource>();

  constructor(deps: MsalTokenDeps) {
    this.deps = deps;
  }

  forApp(app: AppCredentialConfig): MsalTokenSource {
    const key = [
      app.authorityHost ?? this.deps.authorityHost,
      app.tenantId,
      app.clientId,
      app.clientSecret ?? '',
      app.clientCertificate ?? '',
    ].join('|');
    let source = this.sources.get(key);
    if (source === undefined) {
      source = new MsalTokenSource(app, this.deps);
      this.sources.set(key, source);
    }
    return source;
  }
}
