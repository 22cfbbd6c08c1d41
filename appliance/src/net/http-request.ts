// Outbound HTTP, the lean request the per-message paths use (Graph sendMail and its steps): status,
// headers and the whole body text of one request, no redirects followed. Over an undici dispatcher
// it skips WHATWG fetch's Request/Response/Headers/stream objects, which cost about 0.35 ms of CPU
// per request at Graph's 100 ms latency (test/bench/load.ts); over an injected fetch (tests, the
// stand-ins for a cloud) it keeps the same shape. No I/O of its own.
import type { Dispatcher } from 'undici';

export interface HttpRequestInit {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Lower-case names. */
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly signal: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  /** A response header by lower-case name; null when absent (several values joined by ", "). */
  header(name: string): string | null;
  readonly text: string;
}

/**
 * One request; rejects with the network error (its `code` along the cause chain: ECONNREFUSED,
 * UND_ERR_SOCKET, ...) or, once `signal` fired, with an abort error. A 3xx is an answer like any
 * other: nothing here follows a redirect (a bearer token never leaves for another address).
 */
export type HttpRequest = (url: string, init: HttpRequestInit) => Promise<HttpAnswer>;

/** HttpRequest over an undici dispatcher (the cloud door: proxy, CAs, kept-alive connections). */
export function dispatcherRequest(dispatcher: Dispatcher): HttpRequest {
  return async (url, init) => {
    const u = new URL(url);
    const res = await dispatcher.request({
      origin: u.origin,
      path: `${u.pathname}${u.search}`,
      method: init.method,
      headers: init.headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      signal: init.signal,
    });
    const text = await res.body.text();
    const headers = res.headers;
    return {
      status: res.statusCode,
      header: (name) => {
        const v = headers[name];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
      text,
    };
  };
}

/**
 * Large binary bodies (upload chunks) go to fetch as a one-chunk stream with an explicit
 * Content-Length: fetch copies a Buffer body, and 40 copies of a 4 MB chunk per 150 MB message would
 * be garbage the collector only reclaims late, which is where peak memory came from.
 */
function fetchBody(body: string | Buffer | undefined, headers: Record<string, string>): RequestInit {
  if (body === undefined) return {};
  if (typeof body === 'string' || body.length < 65_536) return { body };
  headers['content-length'] = String(body.length);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(body);
      controller.close();
    },
  });
  return { body: stream, duplex: 'half' } as RequestInit;
}

/** HttpRequest over a fetch (an injected one in tests); redirects are not followed here either. */
export function fetchRequest(fetch: typeof globalThis.fetch): HttpRequest {
  return async (url, init) => {
    const headers = { ...init.headers };
    const res = await fetch(url, {
      method: init.method,
      headers,
      ...fetchBody(init.body, headers),
      redirect: 'manual',
      signal: init.signal,
    });
    const text = await res.text();
    return { status: res.status, header: (name) => res.headers.get(name), text };
  };
}
