// The cloud door's undici half (net/cloud-fetch.ts loads it on the first request): the dispatcher
// (kept-alive connections, proxy, the TLS context with the extra CAs), fetch and the lean request
// over it, and who waits for an aborted connection to close. undici is about 1 MB of script: a relay
// whose routes never reach the cloud (capture, SMTP) never compiles it.
import type { SecureContext } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent, fetch as undiciFetch } from 'undici';
import { dispatcherRequest, type HttpRequest } from './http-request.ts';

export interface CloudDoor {
  readonly fetch: typeof globalThis.fetch;
  readonly request: HttpRequest;
  connectionClosed(url: string, limitMs: number): Promise<void>;
  close(): Promise<void>;
}

/** FIFO of callers waiting, per origin, for an aborted connection to close. */
class AbortedConnections {
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(dispatcher: Dispatcher) {
    const closed = (origin: unknown, err: unknown) => {
      // undici destroys the socket of an aborted request with InformationalError('aborted').
      if ((err as Error | undefined)?.message !== 'aborted') return;
      this.settle(String(origin));
    };
    dispatcher.on('disconnect', (origin, _targets, err) => closed(origin, err));
    dispatcher.on('connectionError', (origin, _targets, err) => closed(origin, err));
  }

  private settle(origin: string): void {
    const key = new URL(origin).origin;
    this.waiting.get(key)?.shift()?.();
  }

  wait(url: string, limitMs: number): Promise<void> {
    const key = new URL(url).origin;
    return new Promise<void>((resolve) => {
      const list = this.waiting.get(key) ?? [];
      this.waiting.set(key, list);
      const done = () => {
        clearTimeout(timer);
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        resolve();
      };
      // A request aborted before its socket connected leaves nothing to close: the limit ends it.
      const timer = setTimeout(done, limitMs);
      timer.unref?.();
      list.push(done);
    });
  }
}

export function openCloudDoor(secureContext: SecureContext, proxy: string | undefined): CloudDoor {
  const connect = { secureContext };
  const dispatcher: Dispatcher =
    proxy === undefined
      ? new Agent({ connect, keepAliveTimeout: 30_000 })
      : new ProxyAgent({ uri: proxy, requestTls: connect, keepAliveTimeout: 30_000 });
  const fetch = ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
    undiciFetch(input as string, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    })) as unknown as typeof globalThis.fetch;
  const aborted = new AbortedConnections(dispatcher);
  return {
    fetch,
    request: dispatcherRequest(dispatcher),
    connectionClosed: (url, limitMs) => aborted.wait(url, limitMs),
    close: () => dispatcher.close(),
  };
}
