// Access tokens for cloud transports. One TokenSource per (tenant, app) wraps one MSAL confidential
// client (issue 4), caches tokens and refreshes them before expiry; transports never fetch a token
// per message. ACS (Entra auth) and SMTP XOAUTH2 reuse the same machinery with other scopes.

export interface TokenRequestOptions {
  /** Bypass the cache (after a 401 with a token that looked valid). */
  readonly forceRefresh?: boolean;
  readonly signal?: AbortSignal;
}

export interface TokenSource {
  /** A bearer token for `scope` (e.g. "https://graph.microsoft.com/.default"). */
  getToken(scope: string, options?: TokenRequestOptions): Promise<string>;
}

/** Which app in which tenant, and how it proves itself. Fields are config names, not secrets. */
export interface AppCredentialConfig {
  readonly tenantId: string;
  readonly clientId: string;
  /** Name of a credential (config `credentials:`) holding the client secret. */
  readonly clientSecret?: string;
  /** Name of a credential holding a PEM certificate + private key. */
  readonly clientCertificate?: string;
  /** Cloud preset or explicit authority host. */
  readonly authorityHost?: string;
}

export interface TokenSourceFactory {
  /** Returns the shared TokenSource for this app, creating it on first use. */
  forApp(app: AppCredentialConfig): TokenSource;
}

/** Placeholder used until a route needs tokens; fails loudly rather than silently. */
export const noTokens: TokenSourceFactory = {
  forApp() {
    return {
      async getToken() {
        throw new Error('no token machinery configured');
      },
    };
  },
};
