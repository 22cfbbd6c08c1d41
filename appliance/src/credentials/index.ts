// Builds the appliance's CredentialStore from config. File and environment references are read
// directly; when config has a `keyVault:` section, Key Vault references are read through it
// (keyvault.ts) with caching, periodic refresh and last-good fallback.
import type { Config } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type CloudHttp, createCloudHttp } from '../net/cloud-fetch.ts';
import { createKeyVaultReader, KeyVaultCredentialStore, type KeyVaultReader } from './keyvault.ts';
import { type CredentialStore, LocalCredentialStore } from './store.ts';

export interface CredentialDeps {
  readonly logger: Logger;
  /** Proxy and CAs for Key Vault; built from config `cloud` when absent. */
  readonly cloudHttp?: Pick<CloudHttp, 'ca' | 'proxy'>;
  /** Replaces the Key Vault SDK reader (tests of the store logic only). */
  readonly keyVaultReader?: KeyVaultReader;
}

export function createCredentialStore(config: Config, deps: CredentialDeps): CredentialStore {
  const vaultRefs = Object.entries(config.credentials).filter(([, r]) => 'keyVault' in r);
  if (config.keyVault === undefined) {
    if (vaultRefs.length > 0 && deps.keyVaultReader === undefined) {
      throw new RelayError(
        'RELAY_CONFIG_REFERENCE',
        `credentials ${vaultRefs.map(([n]) => n).join(', ')} refer to Key Vault but the config has no keyVault section`,
      );
    }
    if (vaultRefs.length === 0) return new LocalCredentialStore(config.credentials);
  }
  const http = deps.cloudHttp ?? (config.keyVault ? createCloudHttp(config.cloud) : {});
  const reader =
    deps.keyVaultReader ??
    createKeyVaultReader(
      config.keyVault as NonNullable<Config['keyVault']>,
      config.cloud,
      http as Pick<CloudHttp, 'ca' | 'proxy'>,
    );
  return new KeyVaultCredentialStore({
    refs: config.credentials,
    reader,
    refreshIntervalMs: config.keyVault?.refreshInterval ?? 3_600_000,
    logger: deps.logger,
  });
}
