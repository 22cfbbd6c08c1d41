// The Graph transport the bench children run (graph-rss-child.ts, load-floor-child.ts): built as the
// appliance builds it (the cloud door's lean request and connection tracking, MSAL over the cloud
// fetch), against the parent's simulators; the client secret comes from BENCH_GRAPH_SECRET.
import { MsalTokenSourceFactory } from '../../appliance/src/auth/msal-token-source.ts';
import { routeSchema } from '../../appliance/src/config/schema.ts';
import { LocalCredentialStore } from '../../appliance/src/credentials/store.ts';
import { type GraphRouteConfig, GraphTransport } from '../../appliance/src/delivery/graph/graph-transport.ts';
import { silentLogger } from '../../appliance/src/log.ts';
import { createCloudHttp } from '../../appliance/src/net/cloud-fetch.ts';

export interface ChildCloud {
  readonly caFile: string;
  readonly authorityHost: string;
  readonly graphBaseUrl: string;
  readonly graphScope: string;
  readonly tenantId: string;
  readonly clientId: string;
}

/** A Graph transport for `cloud` with the route settings in `route`, and the close of its HTTP. */
export function benchGraphTransport(
  cloud: ChildCloud,
  route: Record<string, unknown>,
): { transport: GraphTransport; close: () => Promise<void> } {
  const logger = silentLogger();
  const http = createCloudHttp({ caFile: cloud.caFile });
  const credentials = new LocalCredentialStore({ secret: { env: 'BENCH_GRAPH_SECRET' } });
  const tokens = new MsalTokenSourceFactory({
    credentials,
    fetch: http.fetch,
    logger,
    now: Date.now,
    authorityHost: cloud.authorityHost,
    requestTimeoutMs: 10_000,
  });
  const cfg = routeSchema.parse({
    name: 'bench',
    type: 'graph',
    tenantId: cloud.tenantId,
    clientId: cloud.clientId,
    clientSecret: 'secret',
    ...route,
  }) as GraphRouteConfig;
  const transport = new GraphTransport(cfg, {
    logger,
    credentials,
    tokens,
    fetch: http.fetch,
    request: http.request,
    connectionClosed: http.connectionClosed,
    now: Date.now,
    cloud: {
      authorityHost: cloud.authorityHost,
      graphBaseUrl: cloud.graphBaseUrl,
      graphScope: cloud.graphScope,
    },
  });
  return { transport, close: () => http.close() };
}
