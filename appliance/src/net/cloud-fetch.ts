// Outbound HTTP to the Microsoft cloud (Entra, Graph, Key Vault). One undici dispatcher per process
// carries the proxy and the extra trusted CAs from config `cloud:`, so the token client, the Graph
// transport and the Key Vault client all leave through the same door. Touches nothing else.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent, fetch as undiciFetch } from 'undici';
import type { CloudConfig } from '../config/cloud.ts';
import { RelayError } from '../errors.ts';

export interface CloudHttp {
  /** fetch bound to the cloud dispatcher (proxy, CAs). */
  readonly fetch: typeof globalThis.fetch;
  /** The trusted CA list when `caFile` is set (system roots + extra), for SDKs with their own stack. */
  readonly ca?: string[];
  /** Proxy URL, for SDKs with their own stack. */
  readonly proxy?: string;
  close(): Promise<void>;
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
  const connect = ca === undefined ? {} : { ca };
  const dispatcher: Dispatcher =
    cloud.proxy === undefined
      ? new Agent({ connect, keepAliveTimeout: 30_000 })
      : new ProxyAgent({ uri: cloud.proxy, requestTls: connect, keepAliveTimeout: 30_000 });
  const fetch = ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
    undiciFetch(input as string, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    })) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    ...(ca === undefined ? {} : { ca }),
    ...(cloud.proxy === undefined ? {} : { proxy: cloud.proxy }),
    close: () => dispatcher.close(),
  };
}
