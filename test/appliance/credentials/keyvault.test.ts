// Key Vault credentials through the real @azure/keyvault-secrets + @azure/identity code paths against
// the Key Vault and Entra simulators (challenge auth with the SDK's challenge-resource check on, as in
// production: the simulator is reached as relaykit-test.vault.azure.net on loopback; certificate
// credential, test CA): caching, periodic refresh, refresh on an auth failure, last-good fallback with a
// stale health report, and a Graph route whose client secret lives in Key Vault surviving a rotation.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../../appliance/src/config/schema.ts';
import { createCredentialStore } from '../../../appliance/src/credentials/index.ts';
import type { KeyVaultCredentialStore } from '../../../appliance/src/credentials/keyvault.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import { waitFor } from '../../helpers/appliance.ts';
import {
  CLIENT,
  type Harness,
  job,
  SECRET,
  startHarness,
  TENANT,
  writeMessage,
} from '../../helpers/sim/graph-harness.ts';
import { KeyVaultSimulator } from '../../helpers/sim/keyvault.ts';
import { testPki } from '../../helpers/sim/pki.ts';

const APPLIANCE_APP = '99999999-8888-7777-6666-555555555555';
let h: Harness;
let kv: KeyVaultSimulator;
let certFile: string;

beforeAll(async () => {
  h = await startHarness({ credentials: {} });
  const cert = testPki().clientCertificate('relaykit appliance');
  certFile = cert.file;
  h.entra.registerApp({ tenantId: TENANT, clientId: APPLIANCE_APP, certificates: [cert.certPem] });
  kv = await KeyVaultSimulator.start(h.entra, TENANT);
  kv.readers.add(APPLIANCE_APP);
});
afterAll(async () => {
  await kv.close();
  await h.close();
});

function store(
  refreshInterval = '1h',
  scope?: string,
  vault: { url?: string; verifyChallengeResource?: boolean } = {},
): KeyVaultCredentialStore {
  const config = configSchema.parse({
    listeners: [{ name: 'l', port: 0 }],
    identities: [{ name: 'i' }],
    routes: [{ name: 'c', type: 'capture' }],
    defaultRoute: 'c',
    credentials: { 'graph-secret': { keyVault: { secret: 'graph-client-secret' } } },
    cloud: { authorityHost: h.entra.url, caFile: testPki().caFile, requestTimeout: '5s' },
    keyVault: {
      url: vault.url ?? kv.url,
      tenantId: TENANT,
      clientId: APPLIANCE_APP,
      certificate: certFile,
      refreshInterval,
      // verifyChallengeResource is left at its default (on) unless a test names it.
      ...(vault.verifyChallengeResource === undefined
        ? {}
        : { verifyChallengeResource: vault.verifyChallengeResource }),
      ...(scope === undefined ? {} : { scope }),
    },
  });
  return createCredentialStore(config, { logger: silentLogger() }) as KeyVaultCredentialStore;
}

describe('Key Vault credential store', () => {
  it('reads through challenge auth with the appliance certificate and caches the value', async () => {
    kv.set('graph-client-secret', 'first');
    const s = store();
    try {
      const gets = kv.stats.gets;
      expect(await s.get('graph-secret')).toBe('first');
      expect(await s.get('graph-secret')).toBe('first');
      expect(kv.stats.gets - gets).toBe(1);
      expect(kv.stats.challenges).toBeGreaterThanOrEqual(1);
      expect(h.entra.issued.some((i) => i.clientId === APPLIANCE_APP && i.via === 'certificate')).toBe(true);
      expect(s.health()).toEqual([
        expect.objectContaining({ name: 'graph-secret', source: 'keyVault', ok: true, stale: false }),
      ]);
    } finally {
      await s.close();
    }
  });

  it('by default refuses a vault whose challenge names another resource, before asking for a token', async () => {
    kv.set('graph-client-secret', 'leak-me');
    kv.challengeResource = 'https://vault.attacker.example';
    const issued = h.entra.issued.length;
    const s = store();
    const byAddress = store('1h', undefined, { url: kv.loopbackUrl });
    try {
      // The SDK's message: "The challenge resource '…' does not match the requested domain."
      await expect(s.get('graph-secret')).rejects.toThrow(
        /challenge resource 'vault\.attacker\.example' does not match/,
      );
      kv.challengeResource = 'https://vault.azure.net';
      // A vault reached by an address that is not under the resource's domain is refused as well.
      await expect(byAddress.get('graph-secret')).rejects.toThrow(
        /challenge resource 'vault\.azure\.net' does not match/,
      );
      // No token was requested for the foreign resource.
      expect(h.entra.issued.slice(issued).map((i) => i.scope)).not.toContain(
        'https://vault.attacker.example/.default',
      );
    } finally {
      kv.challengeResource = 'https://vault.azure.net';
      await s.close();
      await byAddress.close();
    }
  });

  it('uses an explicit keyVault.scope when the challenge names a resource Entra does not know', async () => {
    kv.set('graph-client-secret', 'scoped');
    kv.challengeResource = 'https://relay-kv.privatelink.vaultcore.azure.net';
    h.entra.resources.add('https://vault.azure.net');
    h.entra.resources.add(h.graph.audience);
    // A private endpoint's challenge names a host the vault URL is not under: the documented case for
    // turning the check off (config/cloud.ts).
    const derived = store('1h', undefined, { verifyChallengeResource: false });
    const explicit = store('1h', 'https://vault.azure.net/.default', { verifyChallengeResource: false });
    try {
      await expect(derived.get('graph-secret')).rejects.toThrow();
      expect(h.entra.refused.at(-1)?.code).toBe('AADSTS500011');
      expect(await explicit.get('graph-secret')).toBe('scoped');
      expect(h.entra.issued.at(-1)?.scope).toBe('https://vault.azure.net/.default');
    } finally {
      kv.challengeResource = 'https://vault.azure.net';
      h.entra.resources.clear();
      await derived.close();
      await explicit.close();
    }
  });

  it('picks up a rotated secret on the periodic refresh', async () => {
    kv.set('graph-client-secret', 'before');
    // The refresh timer is driven by hand; network I/O stays real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = store('1h');
    try {
      expect(await s.get('graph-secret')).toBe('before');
      kv.set('graph-client-secret', 'after');
      const gets = kv.stats.gets;
      // Cached: no read per get, so only the refresh can bring the new value.
      expect(await s.get('graph-secret')).toBe('before');
      expect(kv.stats.gets).toBe(gets);
      vi.advanceTimersByTime(3_600_000);
      await waitFor(() => (kv.stats.gets > gets ? true : undefined), 10_000, 'the periodic refresh');
      await waitFor(async () => ((await s.get('graph-secret')) === 'after' ? true : undefined), 10_000);
    } finally {
      await s.close();
      vi.useRealTimers();
    }
  });

  it('keeps serving the last good value while the vault is unreachable, and says so', async () => {
    kv.set('graph-client-secret', 'good');
    const s = store();
    try {
      expect(await s.get('graph-secret')).toBe('good');
      kv.reachable = false;
      s.invalidate('graph-secret');
      expect(await s.get('graph-secret')).toBe('good');
      const [health] = s.health();
      expect(health).toMatchObject({ ok: true, stale: true });
      expect(health?.detail).toMatch(/unreachable since/);
      kv.reachable = true;
      kv.set('graph-client-secret', 'fresh');
      await s.refreshAll();
      expect(await s.get('graph-secret')).toBe('fresh');
      expect(s.health()[0]).toMatchObject({ stale: false });
    } finally {
      kv.reachable = true;
      await s.close();
    }
  });

  it('fails clearly when the vault refuses the appliance', async () => {
    kv.readers.delete(APPLIANCE_APP);
    const s = store();
    try {
      await expect(s.get('graph-secret')).rejects.toMatchObject({ code: 'RELAY_CREDENTIAL_UNAVAILABLE' });
    } finally {
      kv.readers.add(APPLIANCE_APP);
      await s.close();
    }
  });

  it('a Graph route whose client secret is in Key Vault survives a rotation without restart', async () => {
    kv.set('graph-client-secret', SECRET);
    h.entra.rotateSecret(TENANT, CLIENT, SECRET);
    const s = store();
    try {
      const t = h.transport({ messagesPerMinute: 6000 }, s);
      const msg = await writeMessage(h.dir, 'kv', {
        from: 'scanner@contoso.com',
        to: 'alice@contoso.com',
        text: 'x',
      });
      expect((await t.deliver(job(msg))).kind).toBe('delivered');
      // Rotation: the app gets a new secret, Key Vault gets the new value, the old one dies.
      kv.set('graph-client-secret', 'rotated-secret');
      h.entra.rotateSecret(TENANT, CLIENT, 'rotated-secret');
      h.entra.expireIssuedTokens(CLIENT);
      const out = await t.deliver(job(msg));
      expect(out).toMatchObject({ kind: 'delivered' });
      expect(await s.get('graph-secret')).toBe('rotated-secret');
    } finally {
      await s.close();
    }
  });
});
