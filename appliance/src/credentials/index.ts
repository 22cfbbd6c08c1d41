// Builds the appliance's CredentialStore from config. File and environment references are read
// directly; Key Vault references go through keyvault.ts (issue 4).
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { type CredentialStore, LocalCredentialStore } from './store.ts';

export interface CredentialDeps {
  readonly logger: Logger;
}

export function createCredentialStore(config: Config, _deps: CredentialDeps): CredentialStore {
  return new LocalCredentialStore(config.credentials);
}
