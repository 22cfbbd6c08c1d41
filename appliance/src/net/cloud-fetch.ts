// Outbound HTTP to the Microsoft cloud (Entra, Graph, Key Vault). One undici dispatcher per process
// carries the proxy and the extra trusted CAs from config `cloud:`, so the token client, the Graph
// transport and the Key Vault client all leave through the same door. Touches nothing else. The
// dispatcher (net/cloud-door.ts, undici) is loaded on the first request: a relay whose routes never
// reach the cloud starts without it; a bad caFile still refuses the start here.
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { CloudConfig } from '../config/cloud.ts';
import { RelayError } from '../errors.ts';
import type { CloudDoor } from './cloud-door.ts';
import type { HttpRequest } from './http-request.ts';

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
  const secureContext = createSecureContext(ca === undefined ? {} : { ca });
  let door: CloudDoor | undefined;
  let opening: Promise<CloudDoor> | undefined;
  const open = (): Promise<CloudDoor> =>
    (opening ??= import('./cloud-door.ts').then((m) => {
      door = m.openCloudDoor(secureContext, cloud.proxy);
      return door;
    }));
  return {
    fetch: ((input, init) =>
      door ? door.fetch(input, init) : open().then((d) => d.fetch(input, init))) as typeof globalThis.fetch,
    request: (url, init) => (door ? door.request(url, init) : open().then((d) => d.request(url, init))),
    connectionClosed: (url, limitMs) =>
      door ? door.connectionClosed(url, limitMs) : open().then((d) => d.connectionClosed(url, limitMs)),
    ...(ca === undefined ? {} : { ca }),
    ...(cloud.proxy === undefined ? {} : { proxy: cloud.proxy }),
    // Never opened: nothing to close (and nothing to load for it).
    close: async () => {
      if (opening !== undefined) await (await opening).close();
    },
  };
}
