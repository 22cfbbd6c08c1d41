// The status port from outside, as a hostile page or a rebinding browser would reach it: foreign Host
// headers, cross-site simple POSTs, JSON from another origin, missing CSRF tokens, oversized and
// malformed bodies. Each must get nothing done (the queued messages stay as they were).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fillQueue,
  pageSession,
  type RefusingSmarthost,
  raw,
  refusingSmarthost,
  viaSmarthost,
} from '../../../helpers/admin-http.ts';
import { applianceSandbox, type TestAppliance } from '../../../helpers/appliance.ts';

const sandbox = applianceSandbox('relaykit-guard-');
let smarthost: RefusingSmarthost;
let t: TestAppliance;
let ids: string[];
let port: number;

beforeEach(async () => {
  smarthost = await refusingSmarthost();
  t = await sandbox.start(
    viaSmarthost(smarthost.sink.port, (c) => ({ ...c, admin: { hostnames: ['relay.contoso.lan'] } })),
  );
  port = t.app.httpPort as number;
  ids = await fillQueue(t, 2);
});

afterEach(async () => {
  await sandbox.stop();
  await smarthost.close();
});

async function queueState(): Promise<string> {
  const list = await t.app.admin.list('queue');
  return JSON.stringify(list.map((e) => [e.id, e.legs.map((l) => [l.attempts, l.nextAttemptAt])]));
}

describe('Host allowlist (DNS rebinding)', () => {
  it('a foreign Host gets 421 for reads and deletes; loopback names, IP literals and configured names pass', async () => {
    const before = await queueState();
    const list = await raw(port, { path: '/api/queue', headers: { host: `evil.example:${port}` } });
    expect(list.status).toBe(421);
    expect(list.json()).toEqual({
      error: 'unknown Host: this appliance answers only to its own names (config admin.hostnames)',
    });
    const del = await raw(port, {
      method: 'DELETE',
      path: `/api/queue/${ids[0]}`,
      headers: { host: `evil.example:${port}`, 'content-type': 'application/json' },
    });
    expect(del.status).toBe(421);
    expect(await queueState()).toBe(before);
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      `relay.contoso.lan:${port}`,
      'relaykit.local',
    ]) {
      expect((await raw(port, { path: '/api/queue', headers: { host } })).status, host).toBe(200);
    }
    for (const host of [
      'evil.example',
      'localhost.evil.example',
      'relay.contoso.lan.evil.example',
      '127.0.0.1.nip.io',
    ]) {
      expect((await raw(port, { path: '/healthz', headers: { host } })).status, host).toBe(421);
    }
  });
});

describe('state changes (CSRF)', () => {
  it('a cross-site simple POST (text/plain, foreign Origin) retries nothing', async () => {
    const before = await queueState();
    const res = await raw(port, {
      method: 'POST',
      path: '/api/queue/all/retry',
      headers: {
        'content-type': 'text/plain',
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
      body: '{}',
    });
    expect(res.status).toBe(415);
    expect(res.json()).toEqual({ error: 'state-changing requests need Content-Type: application/json' });
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const form = await raw(port, {
        method: 'POST',
        path: `/api/queue/${ids[0]}/retry`,
        headers: { 'content-type': type, origin: 'https://evil.example' },
        body: 'a=b',
      });
      expect(form.status, type).toBe(415);
    }
    expect(await queueState()).toBe(before);
    expect(smarthost.sink.transactions).toBe(2);
  });

  it('JSON from another origin, or Sec-Fetch-Site cross-site, is 403; no CORS header is ever sent', async () => {
    const before = await queueState();
    const foreign = await raw(port, {
      method: 'DELETE',
      path: `/api/queue/${ids[0]}`,
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.json<{ error: string }>().error).toBe(
      `cross-origin request refused (Origin http://evil.example is not http://127.0.0.1:${port})`,
    );
    const site = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[0]}/retry`,
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
    });
    expect(site.status).toBe(403);
    const preflight = await raw(port, {
      method: 'OPTIONS',
      path: '/api/queue/all/retry',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    for (const r of [foreign, site, preflight]) {
      expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    expect(await queueState()).toBe(before);
  });

  it('the page needs its CSRF token: same Origin without it is 403, with it the retry happens', async () => {
    const { cookie, csrf } = await pageSession(port);
    const origin = `http://127.0.0.1:${port}`;
    const headers = { 'content-type': 'application/json', origin, cookie, 'sec-fetch-site': 'same-origin' };
    const missing = await raw(port, { method: 'POST', path: `/api/queue/${ids[0]}/retry`, headers });
    expect(missing.status).toBe(403);
    expect(missing.json()).toEqual({ error: 'missing or wrong CSRF token: reload the page' });
    const wrong = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[0]}/retry`,
      headers: { ...headers, 'x-csrf-token': `${csrf}x` },
    });
    expect(wrong.status).toBe(403);
    expect(smarthost.sink.transactions).toBe(2);
    const ok = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[0]}/retry`,
      headers: { ...headers, 'x-csrf-token': csrf },
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ retried: [ids[0]] });
  });

  it('the CLI shape (JSON, no Origin, no cookie) still works on loopback', async () => {
    smarthost.refusing = false;
    const res = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[1]}/retry`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const del = await raw(port, {
      method: 'DELETE',
      path: `/api/queue/${ids[0]}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(del.json()).toEqual({ deleted: ids[0] });
  });
});

describe('bad requests get one line each', () => {
  it('unknown id 404, malformed JSON 400, oversized body 413, unknown method 405, GET cannot act', async () => {
    const json = { 'content-type': 'application/json' };
    const unknown = await raw(port, {
      method: 'POST',
      path: '/api/queue/0000000aa-0000-00000000/retry',
      headers: json,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'no queued message 0000000aa-0000-00000000' });
    const traversal = await raw(port, { path: '/api/dead/..%2F..%2Fetc' });
    expect(traversal.status).toBe(404);
    const bad = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[0]}/retry`,
      headers: json,
      body: '{"x":',
    });
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: 'request body is not valid JSON' });
    const big = await raw(port, {
      method: 'POST',
      path: `/api/queue/${ids[0]}/retry`,
      headers: json,
      body: JSON.stringify({ pad: 'x'.repeat(20_000) }),
    });
    expect(big.status).toBe(413);
    expect(big.json()).toEqual({ error: 'request body over 16384 bytes' });
    const put = await raw(port, { method: 'PUT', path: `/api/queue/${ids[0]}`, headers: json });
    expect(put.status).toBe(405);
    const get = await raw(port, { path: `/api/queue/${ids[0]}/retry` });
    expect(get.status).toBe(405);
    for (const r of [unknown, bad, big, put, get])
      expect(r.text.trim().split('\n').length).toBeLessThanOrEqual(3);
    expect(smarthost.sink.transactions).toBe(2);
  });

  it('answers carry no message body, and the page is served with a nonce-only CSP', async () => {
    const show = await raw(port, { path: `/api/queue/${ids[0]}` });
    expect(show.status).toBe(200);
    expect(show.text).not.toContain('hello');
    expect(show.json()).toMatchObject({ id: ids[0], subject: 'queued 1' });
    const page = await raw(port, { path: '/' });
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'none'; script-src 'nonce-[A-Za-z0-9_-]+'/,
    );
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.text).not.toContain('hello');
  });
});
