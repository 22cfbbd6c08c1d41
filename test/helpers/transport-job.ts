// Factories for transport tests: a spool-like message file (the message sits at an offset inside a
// larger file, as in a spool entry), a DeliveryJob over it, and TransportDeps with real credential
// files and a recording fake TokenSourceFactory.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppCredentialConfig, TokenSourceFactory } from '../../appliance/src/auth/token-source.ts';
import type { CredentialRef } from '../../appliance/src/config/credential-ref.ts';
import { LocalCredentialStore } from '../../appliance/src/credentials/store.ts';
import type { DeliveryJob, TransportDeps } from '../../appliance/src/delivery/transport.ts';
import { silentLogger } from '../../appliance/src/log.ts';
import { simFetch } from './sim/token-client.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/mime');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'relaykit-transport-'));
}

/** Writes `message` between a junk prefix and suffix so offset/length must be honoured. */
export function messageFile(dir: string, message: Buffer | string): DeliveryJob['message'] {
  const body = typeof message === 'string' ? Buffer.from(message) : message;
  const prefix = Buffer.from('{"spool":"header that is not part of the message"}\n');
  const path = join(dir, `msg-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(path, Buffer.concat([prefix, body, Buffer.from('\n--trailer--\n')]));
  return { path, offset: prefix.length, length: body.length } as DeliveryJob['message'];
}

let seq = 0;

export function job(message: DeliveryJob['message'], overrides: Partial<DeliveryJob> = {}): DeliveryJob {
  seq++;
  return {
    id: `msg-${seq}`,
    leg: 0,
    mailFrom: 'scanner@contoso.com',
    recipients: ['alice@fabrikam.com'],
    identity: 'scanners',
    attempt: 1,
    receivedAt: Date.now(),
    message,
    idempotencyKey: `key-${seq}-${Math.random()}`,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** The Entra app registration transport tests configure (the fake token factory ignores the secret). */
export const TEST_APP = {
  tenantId: 'contoso.onmicrosoft.com',
  clientId: '11111111-2222-3333-4444-555555555555',
  clientSecret: 'app',
} as const;

export interface FakeTokens extends TokenSourceFactory {
  readonly calls: { app: AppCredentialConfig; scope: string; forceRefresh: boolean }[];
  /** Token returned next; each forced refresh mints a new one. */
  current: string;
  fail?: Error;
}

export function fakeTokens(initial = 'token-1'): FakeTokens {
  let n = 1;
  const f: FakeTokens = {
    calls: [],
    current: initial,
    forApp(app) {
      return {
        async getToken(scope, options) {
          f.calls.push({ app, scope, forceRefresh: options?.forceRefresh === true });
          if (f.fail) throw f.fail;
          if (options?.forceRefresh) f.current = `token-${++n}`;
          return f.current;
        },
      };
    },
  };
  return f;
}

/** Credentials as files, read through the real store (so invalidate() really re-reads). */
export function credentialFiles(
  dir: string,
  values: Record<string, string>,
): { store: LocalCredentialStore; write(name: string, value: string): void } {
  const refs: Record<string, CredentialRef> = {};
  const write = (name: string, value: string) =>
    writeFileSync(join(dir, `cred-${name}`), `${value}\n`, { mode: 0o600 });
  for (const [name, value] of Object.entries(values)) {
    write(name, value);
    refs[name] = { file: join(dir, `cred-${name}`) };
  }
  return { store: new LocalCredentialStore(refs), write };
}

export function deps(over: Partial<TransportDeps> & Pick<TransportDeps, 'credentials'>): TransportDeps {
  return {
    logger: silentLogger(),
    tokens: fakeTokens(),
    // Trusts the test CA: the simulators serve https only, as the cloud does.
    fetch: simFetch as typeof globalThis.fetch,
    now: Date.now,
    ...over,
  };
}
