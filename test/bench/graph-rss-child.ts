// Child process of the Graph memory bench: relays one spooled message through the Graph transport
// (draft + upload path) against simulators run by the parent, then prints its own peak RSS. Running
// the transport alone in a process keeps the simulators' memory out of the figure.
import { MsalTokenSourceFactory } from '../../appliance/src/auth/msal-token-source.ts';
import { routeSchema } from '../../appliance/src/config/schema.ts';
import { LocalCredentialStore } from '../../appliance/src/credentials/store.ts';
import { type GraphRouteConfig, GraphTransport } from '../../appliance/src/delivery/graph/graph-transport.ts';
import { silentLogger } from '../../appliance/src/log.ts';
import { createCloudHttp } from '../../appliance/src/net/cloud-fetch.ts';

interface ChildInput {
  caFile: string;
  authorityHost: string;
  graphBaseUrl: string;
  graphScope: string;
  tenantId: string;
  clientId: string;
  message: { path: string; offset: number; length: number };
  mailFrom: string;
  recipients: string[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as ChildInput;
const logger = silentLogger();
const http = createCloudHttp({ caFile: input.caFile });
const credentials = new LocalCredentialStore({ secret: { env: 'BENCH_GRAPH_SECRET' } });
const tokens = new MsalTokenSourceFactory({
  credentials,
  fetch: http.fetch,
  logger,
  now: Date.now,
  authorityHost: input.authorityHost,
  requestTimeoutMs: 10_000,
});
const cfg = routeSchema.parse({
  name: 'bench',
  type: 'graph',
  tenantId: input.tenantId,
  clientId: input.clientId,
  clientSecret: 'secret',
  // Both sizes take the draft + upload path.
  sendMailMaxSize: '256KB',
  messagesPerMinute: 6000,
}) as GraphRouteConfig;
const transport = new GraphTransport(cfg, {
  logger,
  credentials,
  tokens,
  fetch: http.fetch,
  now: Date.now,
  cloud: {
    authorityHost: input.authorityHost,
    graphBaseUrl: input.graphBaseUrl,
    graphScope: input.graphScope,
  },
});
const started = Date.now();
const outcome = await transport.deliver({
  id: 'bench',
  leg: 0,
  mailFrom: input.mailFrom,
  recipients: input.recipients,
  identity: 'bench',
  attempt: 1,
  receivedAt: started,
  message: input.message,
  idempotencyKey: 'bench/0',
  signal: new AbortController().signal,
});
await http.close();
process.stdout.write(
  `${JSON.stringify({ kind: outcome.kind, outcome, ms: Date.now() - started, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
