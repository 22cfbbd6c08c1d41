// Explicit token scopes (issue 15, item 2): Graph reached under a gateway name whose resource is not
// that name. Entra knows only the real resource (AADSTS500011 invalid_resource otherwise, as it
// answers for a gateway host); the Graph fake accepts only tokens for that resource.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MsalTokenSourceFactory } from '../../../../appliance/src/auth/msal-token-source.ts';
import { cloudSchema, resolveCloud } from '../../../../appliance/src/config/cloud.ts';
import type { GraphTransport } from '../../../../appliance/src/delivery/graph/graph-transport.ts';
import { createLogger } from '../../../../appliance/src/log.ts';
import {
  CLIENT,
  type Harness,
  job,
  startHarness,
  TENANT,
  writeMessage,
} from '../../../helpers/sim/graph-harness.ts';

const GRAPH_RESOURCE = 'https://graph.microsoft.com';
let h: Harness;
let gateway: string;

beforeAll(async () => {
  h = await startHarness({ graph: { audience: GRAPH_RESOURCE } });
  h.entra.resources.add(GRAPH_RESOURCE);
  // The fake listens on 127.0.0.1; the appliance reaches it only as "localhost", the gateway name.
  gateway = h.graph.baseUrl.replace('127.0.0.1', 'localhost');
});
afterAll(async () => {
  await h.close();
});

function transport(cloud: Record<string, unknown>): GraphTransport {
  const resolved = resolveCloud(
    cloudSchema.parse({ authorityHost: h.entra.url, graphBaseUrl: gateway, ...cloud }),
  );
  return h.transport({}, h.credentials, resolved);
}

const mail = { from: 'scanner@contoso.com', to: 'alice@contoso.com', subject: 'via gateway', text: 'hi' };

describe('Graph behind a gateway name', () => {
  it('with the derived scope Entra refuses the resource: transient, health and the error name the keys', async () => {
    const t = transport({});
    const out = await t.deliver(job(await writeMessage(h.dir, 'gw-derived', mail)));
    expect(out.kind).toBe('transient');
    if (out.kind !== 'transient') return;
    expect(out.code).toBe('RELAY_TOKEN_FAILED');
    expect(out.reason).toContain('AADSTS500011');
    expect(out.reason).toContain('cloud.graphScope');
    expect(h.entra.refused.at(-1)?.code).toBe('AADSTS500011');
    const health = t.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('AADSTS500011');
    expect(h.graph.delivered).toHaveLength(0);
  });

  it('with cloud.graphScope set to the real resource it delivers through the gateway', async () => {
    const t = transport({ graphScope: `${GRAPH_RESOURCE}/.default` });
    const out = await t.deliver(job(await writeMessage(h.dir, 'gw-explicit', mail)));
    expect(out).toMatchObject({ kind: 'delivered' });
    expect(h.entra.issued.at(-1)?.scope).toBe('https://graph.microsoft.com/.default');
    expect(h.graph.delivered.at(-1)?.subject).toBe('via gateway');
    expect(t.health().ok).toBe(true);
  });

  it('the default stays the Graph origin of each preset; a scope without /.default is refused', () => {
    expect(resolveCloud(cloudSchema.parse({})).graphScope).toBe('https://graph.microsoft.com/.default');
    expect(resolveCloud(cloudSchema.parse({ preset: 'usgov' })).graphScope).toBe(
      'https://graph.microsoft.us/.default',
    );
    expect(cloudSchema.safeParse({ graphScope: 'https://graph.microsoft.com' }).success).toBe(false);
  });

  it("logs msal's routine 'No client info' at debug, never at warn", async () => {
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(JSON.parse(String(chunk)) as { level: string; msg: string });
          cb();
        },
      }),
    });
    const tokens = new MsalTokenSourceFactory({
      credentials: h.credentials,
      fetch: h.http.fetch,
      logger,
      now: Date.now,
      authorityHost: h.entra.url,
      requestTimeoutMs: 5000,
    });
    await tokens
      .forApp({ tenantId: TENANT, clientId: CLIENT, clientSecret: 'graph-secret' })
      .getToken(`${GRAPH_RESOURCE}/.default`);
    const chatter = lines.filter((l) => /No client info/.test(l.msg));
    expect(chatter.length).toBeGreaterThan(0);
    expect(chatter.every((l) => l.level === 'debug')).toBe(true);
  });
});
