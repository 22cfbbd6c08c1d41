// Preflight, online (`check --online`, opt-in): proves each route's credentials and reachability
// without sending mail. Graph: a token from Entra for the route's app. ACS: a token (Entra auth) or
// the access key, then an authenticated harmless call (GET of an operation id that cannot exist:
// 404 means "authenticated, nothing there"; 401/403 is the credential's fault). SMTP: connect, EHLO,
// STARTTLS and AUTH, then QUIT. Capture: nothing to prove online. Every request has a timeout.
import { randomUUID } from 'node:crypto';
import { createTokenSources } from '../../auth/index.ts';
import { resolveCloud } from '../../config/cloud.ts';
import type { Config, RouteConfig } from '../../config/schema.ts';
import { createCredentialStore } from '../../credentials/index.ts';
import type { CredentialStore } from '../../credentials/store.ts';
import { hmacHeaders, parseConnectionString } from '../../delivery/acs/acs-auth.ts';
import { checkEndpoint } from '../../delivery/acs/acs-client.ts';
import { classifyAcsFailure } from '../../delivery/acs/acs-errors.ts';
import { classifySmtpFailure } from '../../delivery/smtp/smtp-errors.ts';
import { SmtpTransport, smtpFacts } from '../../delivery/smtp/smtp-transport.ts';
import { isRelayError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { createCloudHttp } from '../../net/cloud-fetch.ts';
import { tokenPlan } from '../test-route.ts';

export interface OnlineResult {
  readonly route: string;
  readonly type: string;
  readonly ok: boolean;
  /** What was proven, or what failed. */
  readonly detail: string;
  readonly code?: string;
  readonly hint?: string;
}

export interface OnlineDeps {
  readonly logger: Logger;
  /** Injected by tests; the cloud fetch (proxy, CAs) otherwise. */
  readonly fetch?: typeof globalThis.fetch;
  readonly timeoutMs?: number;
}

function failed(route: RouteConfig, err: unknown, hint?: string): OnlineResult {
  return {
    route: route.name,
    type: route.type,
    ok: false,
    detail: (err as Error)?.message ?? String(err),
    ...(isRelayError(err) ? { code: err.code } : {}),
    ...(hint === undefined ? {} : { hint }),
  };
}

async function acsProbe(
  route: Extract<RouteConfig, { type: 'acs' }>,
  credentials: CredentialStore,
  bearer: string | undefined,
  fetch: typeof globalThis.fetch,
  signal: AbortSignal,
): Promise<OnlineResult> {
  let endpoint: URL;
  let key: string | undefined;
  if (route.auth.type === 'accessKey') {
    const conn = parseConnectionString(await credentials.get(route.auth.connectionString));
    endpoint = checkEndpoint(route.endpoint ?? conn.endpoint);
    key = conn.accessKey;
  } else {
    endpoint = checkEndpoint(route.endpoint as string);
  }
  const url = new URL(`${endpoint.href}/emails/operations/relaykit-check-${randomUUID()}`);
  url.search = `?api-version=${route.apiVersion}`;
  const headers: Record<string, string> =
    key !== undefined ? hmacHeaders('GET', url, '', key, new Date()) : { authorization: `Bearer ${bearer}` };
  const res = await fetch(url, { method: 'GET', headers, signal });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status === 404 || res.ok) {
    return {
      route: route.name,
      type: 'acs',
      ok: true,
      detail: `authenticated at ${endpoint.host} (GET of an unknown operation answered ${res.status})`,
    };
  }
  const c = classifyAcsFailure({
    transport: 'acs',
    httpStatus: res.status,
    serviceCode: res.headers.get('x-ms-error-code') ?? undefined,
  });
  return {
    route: route.name,
    type: 'acs',
    ok: false,
    detail: `${endpoint.host} answered ${res.status}`,
    code: c.code,
    ...(c.hint === undefined ? {} : { hint: c.hint }),
  };
}

async function probe(
  route: RouteConfig,
  config: Config,
  deps: {
    credentials: CredentialStore;
    tokens: ReturnType<typeof createTokenSources>;
    fetch: typeof globalThis.fetch;
    logger: Logger;
  },
  signal: AbortSignal,
): Promise<OnlineResult> {
  const cloud = resolveCloud(config.cloud);
  const plan = tokenPlan(route, cloud);
  let bearer: string | undefined;
  try {
    if (plan.kind === 'token') bearer = await deps.tokens.forApp(plan.app).getToken(plan.scope, { signal });
    if (plan.kind === 'credential') await deps.credentials.get(plan.name);
  } catch (err) {
    return failed(
      route,
      err,
      'check tenantId, clientId and the client secret or certificate (an expired or wrong secret answers invalid_client), and `cloud:` proxy settings',
    );
  }
  if (route.type === 'graph') {
    return { route: route.name, type: route.type, ok: true, detail: `${plan.what}: token issued` };
  }
  if (route.type === 'acs') {
    try {
      return await acsProbe(route, deps.credentials, bearer, deps.fetch, signal);
    } catch (err) {
      return failed(
        route,
        err,
        'the ACS endpoint cannot be reached: check the endpoint, DNS and `cloud.proxy`',
      );
    }
  }
  if (route.type === 'smtp') {
    const t = new SmtpTransport(route, {
      logger: deps.logger,
      credentials: deps.credentials,
      tokens: deps.tokens,
      fetch: deps.fetch,
      now: Date.now,
      cloud,
    });
    try {
      await t.verify(signal);
      const s = t.settings;
      return {
        route: route.name,
        type: 'smtp',
        ok: true,
        detail: `${s.host}:${s.port}: connected, EHLO${s.tls === 'starttls' ? ', STARTTLS' : s.tls === 'implicit' ? ' over TLS' : ''}${route.auth.type === 'none' ? '' : ', AUTH'} accepted`,
      };
    } catch (err) {
      if (isRelayError(err)) return failed(route, err);
      const c = classifySmtpFailure(smtpFacts(err as Parameters<typeof smtpFacts>[0]));
      return { ...failed(route, err, c.hint), code: c.code };
    }
  }
  return { route: route.name, type: route.type, ok: true, detail: 'capture: nothing to prove online' };
}

export async function onlineChecks(config: Config, deps: OnlineDeps): Promise<OnlineResult[]> {
  const cloudHttp = createCloudHttp(config.cloud);
  const fetch = deps.fetch ?? cloudHttp.fetch;
  const credentials = createCredentialStore(config, { logger: deps.logger, cloudHttp });
  const tokens = createTokenSources(config, { logger: deps.logger, credentials, fetch });
  const results: OnlineResult[] = [];
  try {
    for (const route of config.routes) {
      const signal = AbortSignal.timeout(deps.timeoutMs ?? config.cloud.requestTimeout);
      results.push(await probe(route, config, { credentials, tokens, fetch, logger: deps.logger }, signal));
    }
  } finally {
    await credentials.close?.();
    await cloudHttp.close();
  }
  return results;
}
