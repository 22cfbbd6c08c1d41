// Builds the shared TokenSourceFactory: one MSAL confidential client per tenant/app (issue 4), over
// the cloud fetch (proxy, CAs) unless one is injected.
import { resolveCloud } from '../config/cloud.ts';
import type { Config } from '../config/schema.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { Logger } from '../log.ts';
import { createCloudHttp } from '../net/cloud-fetch.ts';
import { MsalTokenSourceFactory } from './msal-token-source.ts';
import type { TokenSourceFactory } from './token-source.ts';

export interface TokenDeps {
  readonly logger: Logger;
  readonly credentials: CredentialStore;
  /** Defaults to a fetch over config `cloud` (proxy, caFile). */
  readonly fetch?: typeof globalThis.fetch;
  readonly now?: () => number;
}

export function createTokenSources(config: Config, deps: TokenDeps): TokenSourceFactory {
  return new MsalTokenSourceFactory({
    credentials: deps.credentials,
    logger: deps.logger,
    fetch: deps.fetch ?? createCloudHttp(config.cloud).fetch,
    now: deps.now ?? Date.now,
    authorityHost: resolveCloud(config.cloud).authorityHost,
    requestTimeoutMs: config.cloud.requestTimeout,
  });
}
