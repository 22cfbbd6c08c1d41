// Status and admin HTTP: the loopback status port (default 127.0.0.1:8025: /healthz (liveness),
// /readyz (readiness), /metrics, /status (the health model's snapshot), the page and the queue API the CLI uses) and the opt-in off-loopback admin listener (the
// same page and API over TLS, for logged-in users only; /metrics and /status also for the monitoring
// bearer token). Every request passes the guard first (admin/guard.ts: Host allowlist, CSRF rules,
// body cap); this file decides who the caller is and hands the request to the probes, the pages or
// the API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.ts';
import { type ApiDeps, type Caller, handleApi } from './admin/api.ts';
import {
  BASE_HEADERS,
  checkStateChange,
  HttpError,
  hostAllowed,
  hostOf,
  isLoopbackAddress,
  readJsonBody,
  sendError,
  sendJson,
  sendText,
} from './admin/guard.ts';
import {
  bearerMatches,
  cookieValue,
  type PasswordLogin,
  type Session,
  SessionStore,
  sessionCookie,
} from './admin/sessions.ts';
import type { HealthModel } from './health.ts';
import type { Metrics } from './metrics.ts';
import type { QueueAdmin } from './queue-admin.ts';
import type { TestRouteReport } from './test-route.ts';
import type { PageModel } from './web/model.ts';
import { renderLoginPage, renderStatusPage } from './web/page.ts';

export interface HttpDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The one health model: /healthz, /readyz and /status render it. */
  readonly health: HealthModel;
  readonly admin: QueueAdmin;
  /** Host names besides loopback names and IP literals (config admin.hostnames + appliance.hostname). */
  readonly hostnames?: readonly string[];
  /** What the page shows. Without it, GET / is 404 (tests that need only the API). */
  readonly page?: () => Promise<PageModel>;
  readonly routes?: readonly string[];
  readonly testRoute?: (route: string, to: string, signal: AbortSignal) => Promise<TestRouteReport>;
}

/** How one listener authenticates callers. */
export interface Surface {
  readonly kind: 'loopback' | 'lan';
  readonly sessions: SessionStore;
  /** Session lifetime for the cookie's Max-Age. */
  readonly sessionMaxAgeMs: number;
  /** LAN only: password login. */
  readonly login?: PasswordLogin;
  /** LAN only: the monitoring bearer token, when configured (read per request: it may rotate). */
  readonly monitoringToken?: () => Promise<string | undefined>;
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics', '/status']);

interface Ctx {
  readonly deps: HttpDeps;
  readonly surface: Surface;
  readonly scheme: 'http' | 'https';
  readonly cookie: string;
  readonly names: ReadonlySet<string>;
  /** The status port is bound off loopback: only probes answer non-loopback peers. */
  readonly probesOnlyOffLoopback: boolean;
}

async function probe(ctx: Ctx, path: string, res: ServerResponse): Promise<void> {
  // Liveness only: restarting a relay whose disk is full helps nothing (that is /readyz's news).
  if (path === '/healthz') return sendJson(res, 200, ctx.deps.health.liveness());
  if (path === '/readyz') {
    const r = await ctx.deps.health.readiness();
    return sendJson(res, r.ready ? 200 : 503, r);
  }
  if (path === '/metrics')
    return sendText(res, 200, await ctx.deps.metrics.render(), ctx.deps.metrics.contentType);
  return sendJson(res, 200, await ctx.deps.health.snapshot());
}

async function identify(
  ctx: Ctx,
  req: IncomingMessage,
  session: Session | undefined,
  address: string,
): Promise<Caller | undefined> {
  if (session) return { who: session.user, role: session.role, address, via: ctx.surface.kind };
  if (ctx.surface.kind === 'loopback') return { who: 'loopback', role: 'admin', address, via: 'loopback' };
  const token = await ctx.surface.monitoringToken?.();
  if (bearerMatches(req.headers.authorization, token))
    return { who: 'monitoring', role: 'monitor', address, via: 'lan' };
  return undefined;
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(303, { ...BASE_HEADERS, location: to, 'content-type': 'text/plain' });
  res.end(`see ${to}\n`);
}

async function handle(
  ctx: Ctx,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const { deps, surface } = ctx;
  const address = req.socket.remoteAddress ?? '';
  if (!hostAllowed(req.headers.host, ctx.names)) {
    deps.logger.warn(
      { host: hostOf(req.headers.host) ?? req.headers.host, address },
      'http: unknown Host refused',
    );
    throw new HttpError(
      421,
      'unknown Host: this appliance answers only to its own names (config admin.hostnames)',
    );
  }
  const method = req.method ?? 'GET';
  if (!['GET', 'HEAD', 'POST', 'DELETE'].includes(method))
    throw new HttpError(405, `${method} is not served here`, { allow: 'GET, HEAD, POST, DELETE' });
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (ctx.probesOnlyOffLoopback && !isLoopbackAddress(address) && !PROBES.has(path))
    throw new HttpError(
      403,
      'the page and queue API of the status port answer only loopback; use the admin listener',
    );
  const session = surface.sessions.get(cookieValue(req.headers.cookie, ctx.cookie));
  const caller = await identify(ctx, req, session, address);
  const state = method === 'POST' || method === 'DELETE';
  if (state) {
    checkStateChange(req, {
      scheme: ctx.scheme,
      csrfToken: session?.csrf,
      allowNonBrowser: surface.kind === 'loopback',
      login: path === '/api/login',
    });
  }

  if (PROBES.has(path) && !state) {
    if (!caller)
      throw new HttpError(401, 'log in or send the monitoring bearer token', {
        'www-authenticate': 'Bearer',
      });
    return probe(ctx, path, res);
  }
  if (path === '/api/login' && method === 'POST') return login(ctx, req, res, address);
  if (path === '/api/logout' && method === 'POST') {
    if (session) surface.sessions.end(session.id);
    deps.logger.info({ audit: { who: caller?.who, action: 'logout', address } }, 'admin: logout');
    return sendJson(
      res,
      200,
      { loggedOut: true },
      { 'set-cookie': sessionCookie(ctx.cookie, '', ctx.scheme === 'https', 0) },
    );
  }
  if ((path === '/' || path === '/login') && !state && deps.page) return page(ctx, path, res, session);
  if (path.startsWith('/api/')) {
    if (!caller) throw new HttpError(401, 'log in first');
    if (caller.role === 'monitor')
      throw new HttpError(403, 'the monitoring token reads /metrics and /status only');
    const answer = await handleApi(apiDeps(deps), caller, req, path, signal);
    if (answer) return sendJson(res, answer.status, answer.body);
  }
  throw new HttpError(404, `nothing at ${path.slice(0, 100)}`);
}

function apiDeps(deps: HttpDeps): ApiDeps {
  return {
    admin: deps.admin,
    logger: deps.logger,
    routes: deps.routes ?? [],
    ...(deps.testRoute ? { testRoute: deps.testRoute } : {}),
  };
}

async function page(
  ctx: Ctx,
  path: string,
  res: ServerResponse,
  existing: Session | undefined,
): Promise<void> {
  const { surface } = ctx;
  if (surface.kind === 'lan' && !existing) {
    if (path !== '/login') return redirect(res, '/login');
    const { html, csp } = renderLoginPage();
    return sendText(res, 200, html, 'text/html; charset=utf-8', { 'content-security-policy': csp });
  }
  if (path === '/login') return redirect(res, '/');
  // Loopback: whoever reaches 127.0.0.1 already has the machine; the page gets a session only for
  // its CSRF token. LAN: the logged-in user's session.
  const headers: Record<string, string> = {};
  let session = existing;
  if (!session) {
    session = surface.sessions.create('local', 'admin');
    headers['set-cookie'] = sessionCookie(
      ctx.cookie,
      session.id,
      ctx.scheme === 'https',
      Math.floor(surface.sessionMaxAgeMs / 1000),
    );
  }
  const model = await (ctx.deps.page as () => Promise<PageModel>)();
  const { html, csp } = renderStatusPage(model, {
    user: session.user,
    role: session.role,
    csrf: session.csrf,
    lan: surface.kind === 'lan',
  });
  return sendText(res, 200, html, 'text/html; charset=utf-8', { ...headers, 'content-security-policy': csp });
}

async function login(ctx: Ctx, req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
  const { surface, deps } = ctx;
  if (!surface.login) throw new HttpError(404, 'no login here: the loopback page needs none');
  const body = await readJsonBody(req);
  try {
    const user = await surface.login.verify(body.username, body.password, address);
    const s = surface.sessions.create(user.username, user.role);
    deps.logger.info(
      { audit: { who: user.username, role: user.role, action: 'login', address } },
      'admin: login',
    );
    return sendJson(
      res,
      200,
      { user: user.username, role: user.role },
      {
        'set-cookie': sessionCookie(
          ctx.cookie,
          s.id,
          ctx.scheme === 'https',
          Math.floor(surface.sessionMaxAgeMs / 1000),
        ),
      },
    );
  } catch (err) {
    if (err instanceof HttpError)
      deps.logger.warn(
        { audit: { action: 'login-failed', address, status: err.status } },
        'admin: login refused',
      );
    throw err;
  }
}

function serve(ctx: Ctx) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    handle(ctx, req, res, abort.signal).catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      ctx.deps.logger.error({ err }, 'http: request failed');
      sendError(res, new HttpError(500, (err as Error).message || 'internal error'));
    });
  };
}

async function listen(server: Server, address: string, port: number): Promise<void> {
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The status port: no login (loopback is the machine), Host allowlist and CSRF rules all the same. */
export async function startHttp(
  address: string,
  port: number,
  deps: HttpDeps,
  now: () => number = Date.now,
): Promise<Server> {
  const maxAge = 12 * 3_600_000;
  const ctx: Ctx = {
    deps,
    surface: {
      kind: 'loopback',
      sessions: new SessionStore({ idleMs: maxAge, maxAgeMs: maxAge, now }),
      sessionMaxAgeMs: maxAge,
    },
    scheme: 'http',
    cookie: 'relaykit_local',
    names: new Set((deps.hostnames ?? []).map((n) => n.toLowerCase())),
    probesOnlyOffLoopback: !isLoopbackAddress(address),
  };
  const server = createServer(serve(ctx));
  await listen(server, address, port);
  return server;
}

export interface AdminListenerOptions {
  readonly address: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly surface: Surface;
}

/** The off-loopback admin listener: TLS 1.2+, login required, Secure __Host- cookie. */
export async function startAdminListener(opts: AdminListenerOptions, deps: HttpDeps): Promise<Server> {
  const ctx: Ctx = {
    deps,
    surface: opts.surface,
    scheme: 'https',
    cookie: '__Host-relaykit',
    names: new Set((deps.hostnames ?? []).map((n) => n.toLowerCase())),
    probesOnlyOffLoopback: false,
  };
  const server = createHttpsServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2' }, serve(ctx));
  await listen(server as unknown as Server, opts.address, opts.port);
  return server as unknown as Server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
