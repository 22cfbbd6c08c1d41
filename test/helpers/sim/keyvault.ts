// Azure Key Vault secrets simulator (data plane, GET /secrets/{name}[/{version}]). Speaks the
// challenge-based auth the SDK uses: a request without a bearer token gets 401 with
// `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`;
// tokens are verified against the Entra simulator (audience https://vault.azure.net) and the caller's
// app id must hold a data-plane role. Secrets are versioned; set() rotates. `reachable = false` makes
// the vault drop connections, as an unreachable vault would. It is reached as
// https://<name>.vault.azure.net:<port> (the name resolves to loopback in the test process, see
// loopback-names.ts), so the SDK's challenge-resource check stays on as in production.
import { randomBytes } from 'node:crypto';
import type { EntraSimulator } from './entra.ts';
import { type HttpsHandle, sendJson, startHttps } from './https-server.ts';
import { resolveToLoopback } from './loopback-names.ts';

export const VAULT_RESOURCE = 'https://vault.azure.net';

interface Version {
  readonly id: string;
  readonly value: string;
  readonly created: number;
}

export class KeyVaultSimulator {
  private readonly http: HttpsHandle;
  private readonly entra: EntraSimulator;
  private readonly tenantId: string;
  private readonly secrets = new Map<string, Version[]>();
  /** App ids allowed to read secrets (Key Vault Secrets User). */
  readonly readers = new Set<string>();
  reachable = true;
  /**
   * Resource named in the 401 challenge. A vault behind a private endpoint or gateway may name one the
   * tenant does not know; tokens are still verified for https://vault.azure.net.
   */
  challengeResource: string = VAULT_RESOURCE;
  readonly stats = { gets: 0, challenges: 0, forbidden: 0, dropped: 0 };

  /** The vault's DNS name (<name>.vault.azure.net), resolving to 127.0.0.1 in this process. */
  readonly hostName: string;

  private constructor(http: HttpsHandle, entra: EntraSimulator, tenantId: string, vaultName: string) {
    this.http = http;
    this.entra = entra;
    this.tenantId = tenantId;
    this.hostName = `${vaultName}.vault.azure.net`;
    resolveToLoopback(this.hostName);
  }

  static async start(
    entra: EntraSimulator,
    tenantId: string,
    vaultName = 'relaykit-test',
  ): Promise<KeyVaultSimulator> {
    let sim: KeyVaultSimulator | undefined;
    const http = await startHttps((req, res) => sim?.handle(req, res));
    sim = new KeyVaultSimulator(http, entra, tenantId, vaultName);
    return sim;
  }

  /** Vault URL for config `keyVault.url`: https://<name>.vault.azure.net:<port>. */
  get url(): string {
    return `https://${this.hostName}:${new URL(this.http.url).port}`;
  }

  /** The same vault by its loopback address (a host name the challenge check must refuse). */
  get loopbackUrl(): string {
    return this.http.url;
  }

  /** Adds a new current version of the secret. */
  set(name: string, value: string): string {
    const id = randomBytes(16).toString('hex');
    const list = this.secrets.get(name) ?? [];
    list.push({ id, value, created: Math.floor(this.entra.now() / 1000) });
    this.secrets.set(name, list);
    return id;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private handle(
    req: Parameters<Parameters<typeof startHttps>[0]>[0],
    res: Parameters<Parameters<typeof startHttps>[0]>[1],
  ): void {
    if (!this.reachable) {
      this.stats.dropped += 1;
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', this.url);
    if (!url.searchParams.get('api-version')) {
      sendJson(res, 400, {
        error: {
          code: 'MissingApiVersionParameter',
          message: 'The api-version query parameter is required.',
        },
      });
      return;
    }
    if (req.headers.authorization === undefined) {
      this.stats.challenges += 1;
      sendJson(
        res,
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'WWW-Authenticate': `Bearer authorization="${this.entra.url}/${this.tenantId}", resource="${this.challengeResource}"`,
        },
      );
      return;
    }
    const auth = this.entra.verify(req.headers.authorization, VAULT_RESOURCE, this.tenantId);
    if (!auth.ok) {
      sendJson(
        res,
        401,
        { error: { code: 'Unauthorized', message: `AKV10022: Invalid audience or token: ${auth.message}` } },
        {
          'WWW-Authenticate': `Bearer authorization="${this.entra.url}/${this.tenantId}", resource="${this.challengeResource}"`,
        },
      );
      return;
    }
    if (!this.readers.has(auth.claims.appid)) {
      this.stats.forbidden += 1;
      sendJson(res, 403, {
        error: {
          code: 'Forbidden',
          message: `Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'`,
          innererror: { code: 'ForbiddenByRbac' },
        },
      });
      return;
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method !== 'GET' || parts[0] !== 'secrets' || parts[1] === undefined) {
      sendJson(res, 405, {
        error: { code: 'BadRequest', message: 'The simulator implements GET /secrets/{name} only.' },
      });
      return;
    }
    const list = this.secrets.get(parts[1]) ?? [];
    const v = parts[2] ? list.find((x) => x.id === parts[2]) : list[list.length - 1];
    if (v === undefined) {
      sendJson(res, 404, {
        error: {
          code: 'SecretNotFound',
          message: `A secret with (name/id) ${parts[1]} was not found in this key vault.`,
        },
      });
      return;
    }
    this.stats.gets += 1;
    sendJson(res, 200, {
      value: v.value,
      id: `${this.url}/secrets/${parts[1]}/${v.id}`,
      attributes: {
        enabled: true,
        created: v.created,
        updated: v.created,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
      tags: {},
    });
  }
}
