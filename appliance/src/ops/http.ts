// Status surface on loopback: /healthz (200 only when every listener is up and the spool is
// writable), /metrics (Prometheus), /status (JSON for people and the console), and the queue API the
// CLI uses while the appliance runs. Binds where config says, 127.0.0.1 by default: the queue API can
// delete mail, so it must never face the device network.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isRelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { version } from '../version.ts';
import type { Metrics } from './metrics.ts';
import type { QueueAdmin } from './queue-admin.ts';

export interface HealthReport {
  readonly ok: boolean;
  readonly listeners: boolean;
  readonly spoolWritable: boolean;
  readonly detail: Record<string, unknown>;
}

export interface HttpDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health: () => Promise<HealthReport>;
  readonly status: () => Promise<Record<string, unknown>>;
  readonly admin: QueueAdmin;
}

function send(res: ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

async function route(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  if (method === 'GET' && url.pathname === '/healthz') {
    const h = await deps.health();
    send(res, h.ok ? 200 : 503, { version, ...h });
    return;
  }
  if (method === 'GET' && url.pathname === '/metrics') {
    send(res, 200, await deps.metrics.render(), 'text/plain; version=0.0.4');
    return;
  }
  if (method === 'GET' && url.pathname === '/status') {
    send(res, 200, await deps.status());
    return;
  }
  const m = /^\/api\/(queue|dead)(?:\/([0-9a-z-]+))?(?:\/(retry|requeue))?$/.exec(url.pathname);
  if (m) {
    const folder = m[1] === 'dead' ? 'dead' : 'queue';
    const id = m[2];
    const action = m[3];
    if (method === 'GET' && !id) return send(res, 200, await deps.admin.list(folder));
    if (method === 'GET' && id && !action) return send(res, 200, await deps.admin.show(folder, id));
    if (method === 'POST' && folder === 'queue' && action === 'retry') {
      return send(
        res,
        200,
        id === 'all' ? await deps.admin.retryAll() : await deps.admin.retry(id as string),
      );
    }
    if (method === 'POST' && folder === 'dead' && action === 'requeue') {
      return send(res, 200, await deps.admin.requeue(id as string));
    }
    if (method === 'DELETE' && id && !action) return send(res, 200, await deps.admin.delete(folder, id));
  }
  send(res, 404, { error: 'not found' });
}

export async function startHttp(address: string, port: number, deps: HttpDeps): Promise<Server> {
  const server = createServer((req, res) => {
    route(deps, req, res).catch((err: unknown) => {
      if (isRelayError(err, 'RELAY_SPOOL_NOT_FOUND')) send(res, 404, { error: err.message, code: err.code });
      else {
        deps.logger.error({ err }, 'http: request failed');
        send(res, 500, { error: (err as Error).message });
      }
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
