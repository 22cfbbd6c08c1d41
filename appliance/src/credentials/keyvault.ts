// Key Vault credential source (issue 4). Reads secrets with @azure/keyvault-secrets as the appliance's
// own Entra identity (a certificate credential from @azure/identity), over the configured proxy and
// CAs. KeyVaultCredentialStore caches every value, re-reads them every refreshInterval and when a
// caller reports an auth failure (invalidate), so a rotated secret is picked up without restart; when
// the vault cannot be reached the last good value keeps being served and health() says it is stale.
// File and environment references are delegated to the local store.
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { type CloudConfig, type KeyVaultConfig, resolveCloud } from '../config/cloud.ts';
import type { CredentialRef } from '../config/credential-ref.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CloudHttp } from '../net/cloud-fetch.ts';
import { type CredentialHealth, type CredentialStore, LocalCredentialStore } from './store.ts';

export interface KeyVaultReader {
  /** The secret's current value (or the given version's). */
  getSecret(name: string, version?: string): Promise<string>;
}

function proxySettings(proxy: string | undefined) {
  if (proxy === undefined) return {};
  const u = new URL(proxy);
  return {
    proxyOptions: {
      host: `${u.protocol}//${u.hostname}`,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
      ...(u.username
        ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) }
        : {}),
    },
  };
}

/** A SecretClient authenticated with the appliance certificate, over the cloud proxy and CAs. */
export function createKeyVaultReader(
  kv: KeyVaultConfig,
  cloud: CloudConfig,
  http: Pick<CloudHttp, 'ca' | 'proxy'>,
): KeyVaultReader {
  const pipeline = {
    ...(http.ca === undefined ? {} : { tlsOptions: { ca: http.ca } }),
    ...proxySettings(http.proxy),
    // The store falls back to the last good value; a long SDK retry ladder would only delay that.
    retryOptions: { maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
  // The Azure SDK (~7 MB resident) is loaded on the first read, so a config without Key Vault
  // references never pays for it.
  let client: Promise<SecretClient> | undefined;
  const load = async (): Promise<SecretClient> => {
    const [{ ClientCertificateCredential }, { SecretClient }] = await Promise.all([
      import('@azure/identity'),
      import('@azure/keyvault-secrets'),
    ]);
    const credential = new ClientCertificateCredential(kv.tenantId, kv.clientId, kv.certificate, {
      authorityHost: resolveCloud(cloud).authorityHost,
      disableInstanceDiscovery: true,
      ...pipeline,
    });
    // The SDK asks for the scope the vault's challenge names; an explicit scope (private endpoint,
    // gateway) replaces it.
    const scope = kv.scope;
    const tokens: TokenCredential =
      scope === undefined
        ? credential
        : { getToken: (_scopes, options) => credential.getToken(scope, options) };
    return new SecretClient(kv.url, tokens, {
      disableChallengeResourceVerification: !kv.verifyChallengeResource,
      ...pipeline,
    });
  };
  return {
    async getSecret(name, version) {
      client ??= load().catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      const secret = await (await client).getSecret(name, {
        ...(version === undefined ? {} : { version }),
        abortSignal: AbortSignal.timeout(cloud.requestTimeout),
      });
      if (secret.value === undefined) throw new Error(`Key Vault secret ${name} has no value`);
      return secret.value;
    },
  };
}

interface VaultEntry {
  value?: string;
  fetchedAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  /** A caller saw an auth failure: re-read before serving again. */
  invalidated?: boolean;
  lastForcedAt?: number;
  pending?: Promise<string>;
}

export interface KeyVaultStoreOptions {
  readonly refs: Readonly<Record<string, CredentialRef>>;
  readonly reader: KeyVaultReader;
  readonly refreshIntervalMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** At most one re-read per secret in this window when callers keep invalidating it. */
  readonly minForcedRefreshMs?: number;
}

export class KeyVaultCredentialStore implements CredentialStore {
  private readonly opts: KeyVaultStoreOptions;
  private readonly local: LocalCredentialStore;
  private readonly vault = new Map<string, VaultEntry>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(opts: KeyVaultStoreOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.local = new LocalCredentialStore(
      Object.fromEntries(Object.entries(opts.refs).filter(([, r]) => !('keyVault' in r))),
    );
    this.timer = setInterval(() => void this.refreshAll(), opts.refreshIntervalMs);
    this.timer.unref();
  }

  async get(name: string): Promise<string> {
    const ref = this.opts.refs[name];
    if (ref === undefined || !('keyVault' in ref)) return this.local.get(name);
    let e = this.vault.get(name);
    if (e === undefined) {
      e = {};
      this.vault.set(name, e);
    }
    if (e.value !== undefined && !e.invalidated) return e.value;
    if (e.value !== undefined && e.invalidated) {
      const recently =
        e.lastForcedAt !== undefined &&
        this.now() - e.lastForcedAt < (this.opts.minForcedRefreshMs ?? 10_000);
      if (recently) return e.value;
      e.lastForcedAt = this.now();
    }
    return this.fetch(name, ref.keyVault, e);
  }

  invalidate(name: string): void {
    const e = this.vault.get(name);
    if (e !== undefined) e.invalidated = true;
    else this.local.invalidate(name);
  }

  /** Re-reads every Key Vault value read so far (the periodic refresh). */
  async refreshAll(): Promise<void> {
    await Promise.all(
      [...this.vault].map(async ([name, e]) => {
        const ref = this.opts.refs[name];
        if (ref === undefined || !('keyVault' in ref) || e.value === undefined) return;
        await this.fetch(name, ref.keyVault, e).catch(() => undefined);
      }),
    );
  }

  private fetch(name: string, ref: { secret: string; version?: string }, e: VaultEntry): Promise<string> {
    e.pending ??= (async () => {
      try {
        const value = await this.opts.reader.getSecret(ref.secret, ref.version);
        if (e.value !== undefined && e.value !== value) {
          this.opts.logger.info({ credential: name }, 'Key Vault secret changed; using the new value');
        }
        e.value = value;
        e.fetchedAt = this.now();
        e.invalidated = false;
        delete e.lastError;
        return value;
      } catch (err) {
        e.lastError = (err as Error)?.message ?? String(err);
        e.lastErrorAt = this.now();
        if (e.value !== undefined) {
          this.opts.logger.warn(
            { credential: name, error: e.lastError },
            'Key Vault unreachable; serving the last good value',
          );
          return e.value;
        }
        throw new RelayError(
          'RELAY_CREDENTIAL_UNAVAILABLE',
          `credential "${name}": Key Vault secret ${ref.secret} could not be read: ${e.lastError}`,
          { cause: err },
        );
      } finally {
        delete e.pending;
      }
    })();
    return e.pending;
  }

  health(): CredentialHealth[] {
    const local = this.local.health();
    const vault = Object.entries(this.opts.refs)
      .filter(([, r]) => 'keyVault' in r)
      .map(([name]): CredentialHealth => {
        const e = this.vault.get(name);
        if (e?.value === undefined) {
          return {
            name,
            source: 'keyVault',
            ok: e?.lastError === undefined,
            ...(e?.lastError === undefined
              ? { detail: 'not read yet' }
              : { detail: `unreadable: ${e.lastError}` }),
          };
        }
        const stale = e.lastError !== undefined;
        return {
          name,
          source: 'keyVault',
          ok: true,
          stale,
          detail: stale
            ? `Key Vault unreachable since ${new Date(e.lastErrorAt ?? 0).toISOString()} (${e.lastError}); serving the value read at ${new Date(e.fetchedAt ?? 0).toISOString()}`
            : `read at ${new Date(e.fetchedAt ?? 0).toISOString()}`,
        };
      });
    return [...local, ...vault];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
