// Outbound HTTP to the Microsoft cloud (Entra, Graph, Key Vault). One undici dispatcher per process
// carries the proxy and the extra trusted CAs from config `cloud:`, so the token client, the Graph
// transport and the Key Vault client all leave through the same door. Touches nothing else.
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent, fetch as undiciFetch } from 'undici';
import type { CloudConfig } from '../config/cloud.ts';
import { RelayError } from '../errors.ts';
import { dispatcherRequest, type HttpRequest } from './http-request.ts';

export interface CloudHttp {
  /** fetch bound to the cloud dispatcher (proxy, CAs). */
  readonly fetch: typeof globalThis.fetch;
  /** The lean request over the same dispatcher, for the per-message paths (http-request.ts). */
  readonly request: HttpRequest;
  /** The trusted CA list when `caFile` is set (system roots + extra), for SDKs with their own stack. */
  readonly ca?: string[];
  /** Proxy URL, for SDKs with their own stack. */
  readonly proxy?: string;
  /**
   * After an aborted request to `url`: resolves when a connection to its origin that an abort
   * destroyed has closed (undici's 'disconnect'), or a failed connect ended, or after `limitMs`.
   */
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

export function createCloudHttp(cloud: Pick<CloudConfig, 'proxy' | 'caFile'>): CloudHttp {
  let ca: string[] | undefined;
  if (cloud.caFile !== undefined) {
    try {
      ca = [...rootCertificates, readFileSync(cloud.caFile, 'utf8')];
    } catch (err) {
      throw new RelayError('RELAY_CONFIG_REFERENCE', `cloud.caFile: cannot read ${cloud.caFile}`, {
        cause: err,
      });
    }
  }
  // One TLS context for every connection: otherwise tls.connect builds one per new connection, from
  // the ~140 roots when `ca` is given (about 5 ms of CPU each).
  const connect = { secureContext: createSecureContext(ca === undefined ? {} : { ca }) };
  const dispatcher: Dispatcher =
    cloud.proxy === undefined
      ? new Agent({ connect, keepAliveTimeout: 30_000 })
      : new ProxyAgent({ uri: cloud.proxy, requestTls: connect, keepAliveTimeout: 30_000 });
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
    ...(ca === undefined ? {} : { ca }),
    ...(cloud.proxy === undefined ? {} : { proxy: cloud.proxy }),
    close: () => dispatcher.close(),
  };
}
