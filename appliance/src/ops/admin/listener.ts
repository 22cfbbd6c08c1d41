// Starts the opt-in off-loopback admin listener from config: TLS material (configured or a kept
// self-signed pair), sessions with the configured lifetimes, password login with lockout, and the
// monitoring bearer token read through the credential store (so it can live in a file, the
// environment or Key Vault, and rotate). Logs the certificate's SHA-256 fingerprint. With `state`,
// login lockouts and sessions (token hashes) survive a restart in <spool>/state/.
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Config } from '../../config/schema.ts';
import type { CredentialStore } from '../../credentials/store.ts';
import { JsonStateFile } from '../../fsio.ts';
import type { LockoutState } from '../../receiver/lockout-state.ts';
import { type HttpDeps, startAdminListener } from '../http.ts';
import { loadSessions, PasswordLogin, type SavedSessions, SessionStore } from './sessions.ts';
import { type AdminTls, adminTls } from './tls.ts';

export interface AdminSurface {
  readonly server: Server;
  readonly tls: AdminTls;
  readonly url: string;
  /** Sessions saved so far are on disk (shutdown, tests). */
  flush(): Promise<void>;
}

/** Where login lockouts and sessions survive a restart (both beside the spool). */
export interface AdminState {
  readonly lockouts: LockoutState;
  readonly spoolRoot: string;
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
  state?: AdminState,
): Promise<AdminSurface | undefined> {
  const l = config.admin.listener;
  if (l === undefined) return undefined;
  const a = config.admin;
  const sessionsPath = state && join(state.spoolRoot, 'state', 'admin-sessions.json');
  const file =
    sessionsPath === undefined
      ? undefined
      : new JsonStateFile<SavedSessions>(sessionsPath, (reason) =>
          deps.logger.warn(
            { event: 'state-file', path: sessionsPath, reason },
            'admin session state file ignored or not written; sessions start empty',
          ),
        );
  const saved = file ? await loadSessions(file) : [];
  const lockout = {
    limit: a.loginFailures.limit,
    windowMs: a.loginFailures.window,
    blockMs: a.loginFailures.block,
  };
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
        sessions: new SessionStore(
          { idleMs: a.session.idleTimeout, maxAgeMs: a.session.maxAge, now, ...(file ? { file } : {}) },
          saved,
        ),
        sessionMaxAgeMs: a.session.maxAge,
        login: new PasswordLogin(a.users, {
          ...lockout,
          delayMs: a.loginFailures.delay,
          now,
          ...(state ? { failures: state.lockouts.tracker('admin', lockout) } : {}),
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
  return { server, tls, url, flush: async () => file?.flush() };
}
