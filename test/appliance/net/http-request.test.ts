// The lean outbound request (net/http-request.ts) over the cloud door (net/cloud-fetch.ts) and over a
// plain fetch, against a real HTTPS server with the test PKI: bodies and headers both ways, no
// redirect followed, the one TLS context still verifying every new connection against config CAs,
// and network errors keeping their code for the classification tables.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudHttp, createCloudHttp } from '../../../appliance/src/net/cloud-fetch.ts';
import { errnoOf, timedSignal } from '../../../appliance/src/net/http-failure.ts';
import { fetchRequest, type HttpRequest } from '../../../appliance/src/net/http-request.ts';
import { type HttpsHandle, readBody, startHttps } from '../../helpers/sim/https-server.ts';
import { testPki } from '../../helpers/sim/pki.ts';

let server: HttpsHandle;
let http: CloudHttp;
const seen: { method: string; url: string; type: string | undefined; body: string }[] = [];
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = await startHttps(async (req, res) => {
    sockets.add(req.socket);
    const body = (await readBody(req, 1_000_000))?.toString('latin1') ?? '';
    seen.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'], body });
    if (req.url === '/utf8') {
      // Several hundred KB: the answer reaches the client in many chunks, some splitting a character.
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('é€'.repeat(100_000));
      return;
    }
    if (req.url === '/moved') {
      res.writeHead(302, { location: `${server.url}/elsewhere` });
      res.end();
      return;
    }
    // A slow answer keeps the connection busy, so requests in parallel open connections of their own.
    await new Promise((r) => setTimeout(r, req.url === '/hold' ? 2000 : 50));
    res.setHeader('retry-after', '7');
    res.setHeader('x-many', ['a', 'b']);
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.end(`got ${body.length}`);
  });
  http = createCloudHttp({ caFile: testPki().caFile });
});
afterAll(async () => {
  await http.close();
  await server.close();
});

const signal = () => AbortSignal.timeout(10_000);

describe.each([
  ['dispatcher', () => http.request],
  ['fetch', () => fetchRequest(http.fetch)],
] as [string, () => HttpRequest][])('HttpRequest over %s', (_name, make) => {
  it('sends method, headers and a string or Buffer body; returns status, headers and text', async () => {
    const request = make();
    seen.length = 0;
    const a = await request(`${server.url}/v1.0/users/a%40b/sendMail?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'aGVsbG8=',
      signal: signal(),
    });
    const big = Buffer.alloc(100_000, 0x41);
    const b = await request(`${server.url}/upload`, {
      method: 'PUT',
      headers: {},
      body: big,
      signal: signal(),
    });
    expect([a.status, a.text, a.header('retry-after'), a.header('x-many'), a.header('absent')]).toEqual([
      202,
      'got 8',
      '7',
      'a, b',
      null,
    ]);
    expect([b.status, b.text]).toEqual([202, 'got 100000']);
    expect(seen.map((s) => [s.method, s.url, s.type])).toEqual([
      ['POST', '/v1.0/users/a%40b/sendMail?x=1', 'text/plain'],
      ['PUT', '/upload', undefined],
    ]);
    expect(seen[1]?.body).toBe('A'.repeat(100_000));
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    seen.length = 0;
    const res = await make()(`${server.url}/moved`, {
      method: 'POST',
      headers: {},
      body: 'x',
      signal: signal(),
    });
    expect(res.status).toBe(302);
    expect(res.header('location')).toBe(`${server.url}/elsewhere`);
    expect(seen.map((s) => s.url)).toEqual(['/moved']);
  });

  it('reads a long UTF-8 answer whole, across chunks that split characters', async () => {
    const res = await make()(`${server.url}/utf8`, { method: 'GET', headers: {}, signal: signal() });
    expect(res.status).toBe(200);
    expect(res.text.length).toBe(200_000);
    expect(res.text).toBe('é€'.repeat(100_000));
  });

  it('a signal that already fired rejects with its reason and sends nothing', async () => {
    seen.length = 0;
    const ac = new AbortController();
    const reason = new Error('shutting down');
    ac.abort(reason);
    const err = await make()(`${server.url}/p`, {
      method: 'POST',
      headers: {},
      body: 'x',
      signal: ac.signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
  });

  it('a signal firing while the server holds the request rejects with its reason', async () => {
    seen.length = 0;
    const ac = new AbortController();
    const reason = new DOMException('timed out', 'TimeoutError');
    const pending = make()(`${server.url}/hold`, {
      method: 'POST',
      headers: {},
      body: 'x',
      signal: ac.signal,
    });
    // The server holds /hold for 2 s: abort once it has the request.
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort(reason);
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
  });

  it('a refused connection rejects with ECONNREFUSED along the cause chain', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await make()(`https://127.0.0.1:${port}/x`, {
      method: 'POST',
      headers: {},
      signal: signal(),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errnoOf(err)).toBe('ECONNREFUSED');
  });
});

describe('the cloud door TLS context', () => {
  it('is built once yet verifies every new connection against the configured CA', async () => {
    sockets.clear();
    const answers = await Promise.all(
      [0, 1, 2].map(() =>
        http.request(`${server.url}/p`, { method: 'POST', headers: {}, body: 'x', signal: signal() }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(sockets.size).toBe(3);
  });

  it('without the CA (system roots only) the test server is refused', async () => {
    const plain = createCloudHttp({});
    try {
      const err = await plain
        .request(`${server.url}/p`, { method: 'POST', headers: {}, body: 'x', signal: signal() })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(errnoOf(err)).toMatch(
        /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
      );
    } finally {
      await plain.close();
    }
  });
});

describe("timedSignal: the caller's signal or our timeout, whichever fires first", () => {
  const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('fires with a TimeoutError after the timeout and says TIMEOUT', async () => {
    const job = new AbortController();
    const t = timedSignal(job.signal, 20);
    expect([t.signal.aborted, t.reason()]).toEqual([false, undefined]);
    await later(60);
    expect(t.signal.aborted).toBe(true);
    expect((t.signal.reason as Error).name).toBe('TimeoutError');
    expect(t.reason()).toBe('TIMEOUT');
    // A shutdown after the timeout is still told as ABORT (the job's end wins the classification).
    job.abort(new Error('stop'));
    expect(t.reason()).toBe('ABORT');
    t.dispose();
  });

  it("passes the caller's abort and its reason on, at once or later", () => {
    const reason = new Error('shutting down');
    const done = new AbortController();
    done.abort(reason);
    const a = timedSignal(done.signal, 10_000);
    expect([a.signal.aborted, a.signal.reason, a.reason()]).toEqual([true, reason, 'ABORT']);
    a.dispose();

    const job = new AbortController();
    const b = timedSignal(job.signal, 10_000);
    job.abort(reason);
    expect([b.signal.aborted, b.signal.reason, b.reason()]).toEqual([true, reason, 'ABORT']);
    b.dispose();
  });

  it("after dispose neither the timer nor the caller's signal fires it", async () => {
    const job = new AbortController();
    const t = timedSignal(job.signal, 20);
    t.dispose();
    await later(60);
    job.abort(new Error('stop'));
    expect(t.signal.aborted).toBe(false);
  });
});
