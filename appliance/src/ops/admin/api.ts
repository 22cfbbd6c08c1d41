// The admin JSON API behind the guard: queue and dead-letter lists and actions (the CLI's
// `queue`/`dead` commands and the page use it) and "send a test message". Every state change is
// logged with who did it. Answers never carry message bodies, secrets or password hashes: entries are
// summaries and headers (queue-admin.ts), test reports carry step details only.
import type { IncomingMessage } from 'node:http';
import { isRelayError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { SpoolFolder } from '../../spool/spool.ts';
import type { QueueAdmin } from '../queue-admin.ts';
import type { TestRouteReport } from '../test-route.ts';
import { HttpError, readJsonBody } from './guard.ts';

export type CallerRole = 'admin' | 'viewer' | 'monitor';

export interface Caller {
  /** User name, "local" (page on loopback) or "loopback" (CLI on loopback). */
  readonly who: string;
  readonly role: CallerRole;
  readonly address: string;
  readonly via: 'loopback' | 'lan';
}

export interface ApiDeps {
  readonly admin: QueueAdmin;
  readonly logger: Logger;
  /** Route names that accept a test message. */
  readonly routes: readonly string[];
  readonly testRoute?: (route: string, to: string, signal: AbortSignal) => Promise<TestRouteReport>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

const ID = /^[0-9a-z][0-9a-z-]{0,80}$/;
const ADDRESS = /^[^\s@<>]{1,64}@[^\s@<>]{1,255}$/;

function audit(deps: ApiDeps, caller: Caller, action: string, target: Record<string, unknown>): void {
  deps.logger.info(
    {
      audit: {
        who: caller.who,
        role: caller.role,
        via: caller.via,
        address: caller.address,
        action,
        ...target,
      },
    },
    `admin: ${action} by ${caller.who}`,
  );
}

function needAdmin(caller: Caller, what: string): void {
  if (caller.role !== 'admin') throw new HttpError(403, `role ${caller.role} cannot ${what}; an admin can`);
}

/** Spool not-found becomes 404 with the id; other errors pass through. */
async function spoolCall<T>(folder: SpoolFolder, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRelayError(err, 'RELAY_SPOOL_NOT_FOUND'))
      throw new HttpError(404, `no ${folder === 'dead' ? 'dead letter' : 'queued message'} ${id}`);
    throw err;
  }
}

/** Answers one /api/ request; undefined when the path is not an API path. */
export async function handleApi(
  deps: ApiDeps,
  caller: Caller,
  req: IncomingMessage,
  path: string,
  signal: AbortSignal,
): Promise<ApiAnswer | undefined> {
  const method = req.method ?? 'GET';
  const q = /^\/api\/(queue|dead)(?:\/([^/]+))?(?:\/(retry|requeue))?\/?$/.exec(path);
  if (q) {
    const folder: SpoolFolder = q[1] === 'dead' ? 'dead' : 'queue';
    const id = q[2];
    const action = q[3];
    if (id !== undefined && id !== 'all' && !ID.test(id))
      throw new HttpError(
        404,
        `no ${folder === 'dead' ? 'dead letter' : 'queued message'} ${id.slice(0, 80)}`,
      );
    if (method === 'GET' || method === 'HEAD') {
      if (action) throw new HttpError(405, `${action} needs POST`, { allow: 'POST' });
      if (id === undefined) return { status: 200, body: await deps.admin.list(folder) };
      return { status: 200, body: await spoolCall(folder, id, () => deps.admin.show(folder, id)) };
    }
    // Read even where no field is needed: an oversized or malformed body is refused, never ignored.
    await readJsonBody(req);
    if (method === 'POST' && folder === 'queue' && action === 'retry' && id !== undefined) {
      needAdmin(caller, 'retry messages');
      const result =
        id === 'all' ? await deps.admin.retryAll() : await spoolCall(folder, id, () => deps.admin.retry(id));
      audit(deps, caller, 'retry', { id, count: result.retried.length });
      return { status: 200, body: result };
    }
    if (method === 'POST' && folder === 'dead' && action === 'requeue' && id !== undefined && id !== 'all') {
      needAdmin(caller, 'requeue dead letters');
      const result = await spoolCall(folder, id, () => deps.admin.requeue(id));
      audit(deps, caller, 'requeue', { id });
      return { status: 200, body: result };
    }
    if (method === 'DELETE' && id !== undefined && id !== 'all' && !action) {
      needAdmin(caller, 'delete messages');
      const result = await spoolCall(folder, id, () => deps.admin.delete(folder, id));
      audit(deps, caller, 'delete', { id, folder });
      return { status: 200, body: result };
    }
    throw new HttpError(405, `${method} ${path} is not an action here`, { allow: 'GET, POST, DELETE' });
  }
  const t = /^\/api\/routes\/([^/]+)\/test\/?$/.exec(path);
  if (t) {
    const route = t[1] as string;
    if (method !== 'POST') throw new HttpError(405, 'a test message needs POST', { allow: 'POST' });
    if (!deps.routes.includes(route) || !deps.testRoute)
      throw new HttpError(404, `no route ${route.slice(0, 80)}`);
    const body = await readJsonBody(req);
    const to = body.to;
    if (typeof to !== 'string' || !ADDRESS.test(to))
      throw new HttpError(400, 'give "to": the e-mail address that should receive the test message');
    needAdmin(caller, 'send test messages');
    const report = await deps.testRoute(route, to, signal);
    audit(deps, caller, 'test-route', { route, to, ok: report.ok });
    return { status: 200, body: report };
  }
  return undefined;
}
