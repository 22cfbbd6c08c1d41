// Resolves credential references (config `credentials:`) to secret values at run time. Values are
// cached; `invalidate` forces a re-read after an auth failure so a rotated secret is picked up
// without restart. Sources: file, environment variable, Key Vault (keyvault.ts, issue 4).
import { readFile } from 'node:fs/promises';
import type { CredentialRef } from '../config/credential-ref.ts';
import { RelayError } from '../errors.ts';

export interface CredentialHealth {
  readonly name: string;
  readonly source: 'file' | 'env' | 'keyVault';
  readonly ok: boolean;
  /** True when the last refresh failed and an older value is being served. */
  readonly stale?: boolean;
  readonly detail?: string;
}

export interface CredentialStore {
  /** The secret value; throws RelayError RELAY_CREDENTIAL_UNAVAILABLE when it cannot be read. */
  get(name: string): Promise<string>;
  /** Drop the cached value so the next get() reads the source again. */
  invalidate(name: string): void;
  health(): CredentialHealth[];
  close?(): Promise<void>;
}

/** Reads a reference from a file or the environment. Key Vault references are delegated. */
export interface SecretSource {
  read(ref: CredentialRef, name: string): Promise<string>;
}

export const localSource: SecretSource = {
  async read(ref, name) {
    if ('file' in ref) {
      try {
        return (await readFile(ref.file, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new RelayError(
          'RELAY_CREDENTIAL_UNAVAILABLE',
          `credential "${name}": cannot read ${ref.file}`,
          {
            cause: err,
          },
        );
      }
    }
    if ('env' in ref) {
      const v = process.env[ref.env];
      if (v === undefined || v === '') {
        throw new RelayError(
          'RELAY_CREDENTIAL_UNAVAILABLE',
          `credential "${name}": environment variable ${ref.env} is not set`,
        );
      }
      return v;
    }
    throw new RelayError('RELAY_CREDENTIAL_UNAVAILABLE', `credential "${name}": no Key Vault is configured`);
  },
};

/** A store over file and environment references; Key Vault support wraps or replaces it. */
export class LocalCredentialStore implements CredentialStore {
  private readonly cache = new Map<string, string>();
  private readonly refs: Readonly<Record<string, CredentialRef>>;
  private readonly source: SecretSource;

  constructor(refs: Readonly<Record<string, CredentialRef>>, source: SecretSource = localSource) {
    this.refs = refs;
    this.source = source;
  }

  async get(name: string): Promise<string> {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const ref = this.refs[name];
    if (ref === undefined) {
      throw new RelayError(
        'RELAY_CREDENTIAL_UNAVAILABLE',
        `no credential named "${name}" in config credentials`,
      );
    }
    const value = await this.source.read(ref, name);
    this.cache.set(name, value);
    return value;
  }

  invalidate(name: string): void {
    this.cache.delete(name);
  }

  health(): CredentialHealth[] {
    return Object.entries(this.refs).map(([name, ref]) => ({
      name,
      source: 'file' in ref ? 'file' : 'env' in ref ? 'env' : 'keyVault',
      ok: this.cache.has(name) || !('keyVault' in ref),
    }));
  }
}
