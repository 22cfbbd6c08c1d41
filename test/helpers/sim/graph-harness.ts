// Test harness for the Graph transport: the test PKI, Entra and Graph simulators, a credential store,
// real MSAL token sources over the cloud fetch that trusts the test CA, and helpers that write
// spool-like message files (message bytes at an offset inside a larger file, as the spool keeps them)
// with nodemailer's MailComposer, streaming so 100 MB messages never sit in memory.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import MailComposer from 'nodemailer/lib/mail-composer';
import { MsalTokenSourceFactory } from '../../../appliance/src/auth/msal-token-source.ts';
import type { ResolvedCloud } from '../../../appliance/src/config/cloud.ts';
import type { CredentialRef } from '../../../appliance/src/config/credential-ref.ts';
import { routeSchema } from '../../../appliance/src/config/schema.ts';
import { type CredentialStore, LocalCredentialStore } from '../../../appliance/src/credentials/store.ts';
import {
  type GraphRouteConfig,
  GraphTransport,
} from '../../../appliance/src/delivery/graph/graph-transport.ts';
import type { DeliveryJob } from '../../../appliance/src/delivery/transport.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import { type CloudHttp, createCloudHttp } from '../../../appliance/src/net/cloud-fetch.ts';
import type { MessageSource } from '../../../appliance/src/spool/record.ts';
import { EntraSimulator } from './entra.ts';
import { type GraphSimOptions, GraphSimulator, type SimMailbox } from './graph.ts';
import { testPki } from './pki.ts';

export const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
export const SECRET = 'relay-secret-1';

export interface Harness {
  readonly entra: EntraSimulator;
  readonly graph: GraphSimulator;
  readonly http: CloudHttp;
  readonly cloud: ResolvedCloud;
  readonly dir: string;
  readonly credentials: CredentialStore;
  readonly tokens: MsalTokenSourceFactory;
  /** A Graph transport on the simulators; `cloud` replaces the resolved cloud (gateway names, scopes). */
  transport(
    route?: Record<string, unknown>,
    credentials?: CredentialStore,
    cloud?: ResolvedCloud,
  ): GraphTransport;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Clock of the token sources and transports (epoch ms); the simulators keep their own (entra.now). */
  readonly now?: () => number;
  readonly mailboxes?: readonly SimMailbox[];
  readonly roles?: string[];
  readonly graph?: Partial<Omit<GraphSimOptions, 'entra'>>;
  readonly credentials?: Record<string, CredentialRef>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const now = opts.now ?? Date.now;
  const pki = testPki();
  const entra = await EntraSimulator.start();
  entra.registerApp({
    tenantId: TENANT,
    clientId: CLIENT,
    secrets: [SECRET],
    roles: opts.roles ?? ['Mail.Send', 'Mail.ReadWrite'],
  });
  const graph = await GraphSimulator.start({
    entra,
    tenantId: TENANT,
    mailboxes: opts.mailboxes ?? [{ address: 'scanner@contoso.com' }],
    ...opts.graph,
  });
  const dir = mkdtempSync(join(tmpdir(), 'relaykit-graph-'));
  await writeFile(join(dir, 'secret.txt'), `${SECRET}\n`, { mode: 0o600 });
  const http = createCloudHttp({ caFile: pki.caFile });
  const cloud: ResolvedCloud = {
    authorityHost: entra.url,
    graphBaseUrl: graph.baseUrl,
    graphScope: `${graph.audience}/.default`,
  };
  const credentials = new LocalCredentialStore(
    opts.credentials ?? { 'graph-secret': { file: join(dir, 'secret.txt') } },
  );
  const logger = silentLogger();
  const tokens = new MsalTokenSourceFactory({
    credentials,
    fetch: http.fetch,
    logger,
    now,
    authorityHost: entra.url,
    requestTimeoutMs: 5000,
  });
  return {
    entra,
    graph,
    http,
    cloud,
    dir,
    credentials,
    tokens,
    transport(route = {}, creds = credentials, cloudOverride = cloud) {
      const cfg = routeSchema.parse({
        name: 'graph',
        type: 'graph',
        tenantId: TENANT,
        clientId: CLIENT,
        clientSecret: 'graph-secret',
        requestTimeout: '10s',
        ...route,
      }) as GraphRouteConfig;
      const toks =
        creds === credentials
          ? tokens
          : new MsalTokenSourceFactory({
              credentials: creds,
              fetch: http.fetch,
              logger,
              now,
              authorityHost: entra.url,
              requestTimeoutMs: 5000,
            });
      return new GraphTransport(cfg, {
        logger,
        credentials: creds,
        tokens: toks,
        fetch: http.fetch,
        request: http.request,
        connectionClosed: http.connectionClosed,
        now,
        cloud: cloudOverride,
      });
    },
    async close() {
      await graph.close();
      await entra.close();
      await http.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a bench child needs to build its own Graph transport on these simulators (the test CA file,
 * the resolved cloud names, the app's tenant and client; the secret travels in BENCH_GRAPH_SECRET).
 */
export function simChildCloud(h: Pick<Harness, 'cloud'>) {
  return { caFile: testPki().caFile, ...h.cloud, tenantId: TENANT, clientId: CLIENT };
}

/** Config `cloud:` of an appliance that reaches these simulators (test CA trusted). */
export function simCloudConfig(h: Pick<Harness, 'entra' | 'graph'>, requestTimeout = '5s') {
  return {
    authorityHost: h.entra.url,
    graphBaseUrl: h.graph.baseUrl,
    caFile: testPki().caFile,
    requestTimeout,
  };
}

/** Bytes the spool would keep in front of the message; the transport must honour the offset. */
const PREFIX = Buffer.from('{"spool":"header","padding":"xxxxxxxxxxxxxxxx"}\n');

export type MailOptions = ConstructorParameters<typeof MailComposer>[0];

/** Writes a message (nodemailer options) spool-like into dir and returns its MessageSource. */
export async function writeMessage(dir: string, name: string, mail: MailOptions): Promise<MessageSource> {
  const path = join(dir, `${name}.msg`);
  const out = createWriteStream(path);
  out.write(PREFIX);
  await pipeline(new MailComposer(mail).compile().createReadStream(), out);
  const size = statSync(path).size;
  return { path, offset: PREFIX.length, length: size - PREFIX.length };
}

/** Writes `size` pseudo-random bytes to a file, streaming; returns the path and SHA-256. */
export async function writeBlob(
  dir: string,
  name: string,
  size: number,
): Promise<{ path: string; sha256: string }> {
  const path = join(dir, name);
  const hash = createHash('sha256');
  const seed = randomBytes(1 << 20);
  async function* gen() {
    let left = size;
    let n = 0;
    while (left > 0) {
      const chunk = Buffer.from(seed.subarray(0, Math.min(seed.length, left)));
      if (chunk.length >= 4) chunk.writeUInt32LE(n++, 0);
      hash.update(chunk);
      left -= chunk.length;
      yield chunk;
    }
  }
  await pipeline(gen(), createWriteStream(path));
  return { path, sha256: hash.digest('hex') };
}

/** A harness of its own for one test (options the shared one lacks), closed whatever happens. */
export async function withHarness<T>(opts: HarnessOptions, fn: (h: Harness) => Promise<T>): Promise<T> {
  const h = await startHarness(opts);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

/**
 * A message from `from` (default scanner@contoso.com) to alice@contoso.com with body "x" and one
 * attachment of `size` pseudo-random bytes named `<name>.bin`; returns the message and the blob.
 */
export async function writeWithAttachment(
  dir: string,
  name: string,
  size: number,
  from = 'scanner@contoso.com',
): Promise<{ msg: MessageSource; blob: { path: string; sha256: string } }> {
  const blob = await writeBlob(dir, `${name}.bin`, size);
  const msg = await writeMessage(dir, name, {
    from,
    to: 'alice@contoso.com',
    text: 'x',
    attachments: [{ filename: `${name}.bin`, path: blob.path }],
  });
  return { msg, blob };
}

export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

export function fileStream(path: string) {
  return createReadStream(path);
}

let seq = 0;
export function job(message: MessageSource, over: Partial<DeliveryJob> = {}): DeliveryJob {
  seq += 1;
  return {
    id: `msg-${seq}`,
    leg: 0,
    mailFrom: 'scanner@contoso.com',
    recipients: ['alice@contoso.com'],
    identity: 'devices',
    attempt: 1,
    receivedAt: Date.now(),
    message,
    idempotencyKey: `msg-${seq}/0`,
    signal: new AbortController().signal,
    ...over,
  };
}
