// Starts the opt-in off-loopback admin listener from config: TLS material (configured or a kept
// self-signed pair), sessions with the configured lifetimes, password login with lockout, and the
// monitoring bearer token read through the credential store (so it can live in a file, the
// environment or Key Vault, and rotate). Logs the certificate's SHA-256 fingerprint.
import type { Server } from 'node:http';
import type { Config } from '../../config/schema.ts';
import type { CredentialStore } from '../../credentials/store.ts';
import { type HttpDeps, startAdminListener } from '../http.ts';
import { PasswordLogin, SessionStore } from './sessions.ts';
import { type AdminTls, adminTls } from './tls.ts';

export interface AdminSurface {
  readonly server: Server;
  readonly tls: AdminTls;
  readonly url: string;
}

/** Names the admin surface answers to besides loopback names and IP literals. */
export function adminHostnames(config: Config): string[] {
  return [...new Set([config.appliance.hostname.toLowerCase(), ...config.admin.hostnames])];
}

export async function startAdminSurface(
  config: Config,
  deps: HttpDeps,
  credentials: CredentialStore,
  now: () => number,
): Promise<AdminSurface | undefined> {
  const l = config.admin.listener;
  if (l === undefined) return undefined;
  const a = config.admin;
  const tls = await adminTls(l, adminHostnames(config));
  const tokenName = a.monitoringToken;
  const server = await startAdminListener(
    {
      address: l.address,
      port: l.port,
      cert: tls.cert,
      key: tls.key,
      surface: {
        kind: 'lan',
        sessions: new SessionStore({ idleMs: a.session.idleTimeout, maxAgeMs: a.session.maxAge, now }),
        sessionMaxAgeMs: a.session.maxAge,
        login: new PasswordLogin(a.users, {
          limit: a.loginFailures.limit,
          windowMs: a.loginFailures.window,
          blockMs: a.loginFailures.block,
          delayMs: a.loginFailures.delay,
          now,
        }),
        ...(tokenName === undefined
          ? {}
          : {
              monitoringToken: async () => {
                try {
                  return await credentials.get(tokenName);
                } catch {
                  return undefined; // unreadable token: nobody gets in with a bearer
                }
              },
            }),
      },
    },
    deps,
  );
  const port = (server.address() as { port: number }).port;
  const url = `https://${l.address.includes(':') ? `[${l.address}]` : l.address}:${port}/`;
  deps.logger.info(
    {
      admin: {
        url,
        certificate: tls.source,
        fingerprint: tls.fingerprint,
        validTo: tls.validTo,
        generated: tls.generated,
      },
    },
    `admin: listening on ${url} (certificate SHA-256 ${tls.fingerprint})`,
  );
  return { server, tls, url };
}
