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

/**
 * HttpRequest over an undici dispatcher (the cloud door: proxy, CAs, kept-alive connections), through
 * `dispatch` with a handler that gathers the answer's bytes: undici's `request` wraps every answer in
 * a Readable stream and an AsyncResource, which a sendMail's empty 202 does not need. Aborts as
 * `request` does: a signal fired before the request starts aborts it at its start, one fired after
 * aborts it through its controller (undici then destroys its connection), and the promise rejects
 * with the signal's reason.
 */
export function dispatcherRequest(dispatcher: Dispatcher): HttpRequest {
  return (url, init) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const { signal } = init;
      let controller: Dispatcher.DispatchController | undefined;
      let reason: Error | undefined;
      const onAbort = () => {
        reason = abortReason(signal);
        controller?.abort(reason);
      };
      if (signal.aborted) reason = abortReason(signal);
      else signal.addEventListener('abort', onAbort, { once: true });
      let status = 0;
      let headers: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      const settled = () => signal.removeEventListener('abort', onAbort);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (reason !== undefined) c.abort(reason);
        },
        onResponseStart(_c, statusCode, h) {
          // 1xx answers are not the answer.
          if (statusCode < 200) return;
          status = statusCode;
          headers = h;
        },
        onResponseData(_c, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          settled();
          const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          resolve(answer(status, headers, body.toString('utf8')));
        },
        onResponseError(_c, err) {
          settled();
          reject(err);
        },
      };
      try {
        const u = new URL(url);
        dispatcher.dispatch(
          {
            origin: u.origin,
            path: `${u.pathname}${u.search}`,
            method: init.method,
            headers: init.headers,
            ...(init.body === undefined ? {} : { body: init.body }),
          },
          handler,
        );
      } catch (err) {
        settled();
        reject(err);
      }
    });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException('This operation was aborted', 'AbortError');
}

function answer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
): HttpAnswer {
  return {
    status,
    header: (name) => {
      const v = headers[name];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
    text,
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
