// Test factories for the appliance: a temp directory, a config with port 0 listeners and a capture
// route inside it, an in-process appliance, a nodemailer client, and a poller. Real servers, real
// sockets, no mocks of our own code.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach } from 'vitest';
import { type Appliance, type ApplianceOptions, startAppliance } from '../../appliance/src/app.ts';
import { parseConfig } from '../../appliance/src/config/load.ts';
import type { Config, ConfigInput } from '../../appliance/src/config/schema.ts';
import { type Logger, silentLogger } from '../../appliance/src/log.ts';

export async function tempDir(prefix = 'relaykit-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A minimal valid config rooted in `dir`: loopback listener on port 0, capture route, fast retries. */
export function baseConfigInput(dir: string): ConfigInput {
  return {
    listeners: [{ name: 'test', address: '127.0.0.1', port: 0, auth: false }],
    identities: [{ name: 'loopback', networks: ['127.0.0.0/8', '::1/128'] }],
    routes: [{ name: 'local', type: 'capture', directory: join(dir, 'outbox') }],
    defaultRoute: 'local',
    spool: { directory: join(dir, 'spool'), retrySchedule: '50ms,100ms*3,200ms*10' },
    http: { port: 0 },
    delivery: { drainTimeout: '2s' },
    log: { level: 'silent' },
  };
}

export function makeConfig(dir: string, patch: (c: ConfigInput) => ConfigInput = (c) => c): Config {
  return parseConfig(patch(baseConfigInput(dir)), 'test config', dir);
}

export interface TestAppliance {
  readonly app: Appliance;
  readonly dir: string;
  readonly port: number;
  readonly config: Config;
  stop(): Promise<void>;
}

export async function startTestAppliance(
  dir: string,
  patch?: (c: ConfigInput) => ConfigInput,
  opts: Partial<ApplianceOptions> & { logger?: Logger } = {},
): Promise<TestAppliance> {
  const config = makeConfig(dir, patch);
  const app = await startAppliance(config, { logger: silentLogger(), ...opts });
  return {
    app,
    dir,
    config,
    port: (app.listeners[0] as { port: number }).port,
    async stop() {
      await app.stop();
    },
  };
}

export interface ApplianceSandbox {
  /** This test's fresh directory (config, spool, outbox live below it). */
  readonly dir: string;
  /** Starts an appliance rooted in `dir`; the sandbox stops it after the test. */
  start(
    patch?: (c: ConfigInput) => ConfigInput,
    opts?: Partial<ApplianceOptions> & { logger?: Logger },
  ): Promise<TestAppliance>;
  /** Stops the appliance now (a test that restarts it, or inspects the files of a stopped one). */
  stop(): Promise<void>;
}

/**
 * Registers beforeEach/afterEach for a describe block or file: a new directory per test, and
 * whatever appliance the test started is stopped and the directory removed afterwards.
 */
export function applianceSandbox(prefix?: string): ApplianceSandbox {
  let dir: string | undefined;
  let running: TestAppliance | undefined;
  beforeEach(async () => {
    dir = await tempDir(prefix);
  });
  afterEach(async () => {
    const r = running;
    running = undefined;
    await r?.stop();
    if (dir !== undefined) await removeDir(dir);
    dir = undefined;
  });
  return {
    get dir() {
      if (dir === undefined) throw new Error('applianceSandbox: dir is only there inside a test');
      return dir;
    },
    async start(patch, opts) {
      running = await startTestAppliance(this.dir, patch, opts);
      return running;
    },
    async stop() {
      const r = running;
      running = undefined;
      await r?.stop();
    },
  };
}

export interface MailOptions {
  from?: string;
  to?: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  subject?: string;
  text?: string;
  html?: string;
  raw?: string | Buffer;
  envelope?: { from: string; to: string[] };
  attachments?: { filename: string; content: Buffer | string; contentType?: string }[];
  headers?: Record<string, string>;
  messageId?: string;
}

export async function sendMail(
  port: number,
  mail: MailOptions,
  client: { auth?: { user: string; pass: string }; secure?: boolean; tls?: object; ignoreTLS?: boolean } = {},
): Promise<{ response: string; messageId: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: client.secure ?? false,
    ignoreTLS: client.ignoreTLS ?? !client.tls,
    ...(client.tls ? { tls: client.tls } : {}),
    ...(client.auth ? { auth: client.auth } : {}),
  });
  try {
    const info = await transport.sendMail({
      from: 'scanner@example.com',
      to: 'someone@example.com',
      subject: 'test',
      text: 'hello',
      ...mail,
    });
    return { response: info.response, messageId: info.messageId };
  } finally {
    transport.close();
  }
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  label = 'condition',
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The .eml files a capture directory holds, with their text. */
export async function captured(dir: string): Promise<{ name: string; text: string }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
