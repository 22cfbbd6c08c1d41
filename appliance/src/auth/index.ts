// Builds the shared TokenSourceFactory (one MSAL confidential client per tenant/app; issue 4).
import type { Config } from '../config/schema.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { Logger } from '../log.ts';
import { noTokens, type TokenSourceFactory } from './token-source.ts';

export interface TokenDeps {
  readonly logger: Logger;
  readonly credentials: CredentialStore;
}

export function createTokenSources(_config: Config, _deps: TokenDeps): TokenSourceFactory {
  return noTokens;
}
