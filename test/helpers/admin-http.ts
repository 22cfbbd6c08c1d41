// Helpers for tests of the status port and admin listener: raw HTTP(S) requests with exact headers
// (fetch forbids setting Host and Origin the way a hostile page or a rebinding browser would send
// them), the page's session cookie and CSRF token, and an appliance whose queue holds messages a
// scripted smarthost keeps refusing (451) until the test lets them through.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConfigInput } from '../../appliance/src/config/schema.ts';
import type { ApplianceSandbox, TestAppliance } from './appliance.ts';
import { sendMail, waitFor } from './appliance.ts';
import { SmtpSink } from './sim/smtp-sink.ts';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RawRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** https with this CA bundle (or true: accept any certificate, to inspect it). */
  readonly tls?: { ca?: string; insecure?: boolean };
  readonly address?: string;
}

export function raw(port: number, req: RawRequest = {}): Promise<RawAnswer> {
  const address = req.address ?? '127.0.0.1';
  const headers = { host: `${address}:${port}`, ...(req.headers ?? {}) };
  const options = {
    host: address,
    port,
    method: req.method ?? 'GET',
    path: req.path ?? '/',
    headers,
    ...(req.tls ? { ca: req.tls.ca, rejectUnauthorized: !req.tls.insecure, servername: undefined } : {}),
  };
  return new Promise((resolve, reject) => {
    const r = (req.tls ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** GET / like a browser: the session cookie (name=value) and the page's CSRF token. */
export async function pageSession(
  port: number,
  cookieName = 'relaykit_local',
  extra: RawRequest = {},
): Promise<{ cookie: string; csrf: string; html: string }> {
  const page = await raw(port, { ...extra, path: '/', headers: { ...(extra.headers ?? {}) } });
  if (page.status !== 200) throw new Error(`GET / answered ${page.status}: ${page.text}`);
  const set = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
  const cookie = set.map((c) => c.split(';')[0] as string).find((c) => c.startsWith(`${cookieName}=`));
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)?.[1];
  const sent = extra.headers?.cookie;
  if ((!cookie && !sent) || !csrf) throw new Error('the page set no session cookie or CSRF token');
  return { cookie: cookie ?? (sent as string), csrf, html: page.text };
}

export interface RefusingSmarthost {
  readonly sink: SmtpSink;
  /** While true the smarthost answers 451 after DATA. RCPT nobody@… always gets 550. */
  refusing: boolean;
  close(): Promise<void>;
}

export async function refusingSmarthost(): Promise<RefusingSmarthost> {
  const state = {
    refusing: true,
    sink: undefined as unknown as SmtpSink,
    async close() {
      await state.sink.close();
    },
  };
  state.sink = new SmtpSink({
    tls: 'none',
    // A mailbox that does not exist, for dead letters with a reason.
    onRcpt: (rcpt) =>
      rcpt.startsWith('nobody@') ? { code: 550, text: '5.1.1 no such mailbox (test smarthost)' } : undefined,
    onDataEnd: () =>
      state.refusing ? { code: 451, text: '4.3.0 try again later (test smarthost)' } : undefined,
  });
  await state.sink.start();
  return state;
}

/** Config patch: one SMTP route "smarthost" to the sink as the default route, retries an hour apart. */
export function viaSmarthost(port: number, extra: (c: ConfigInput) => ConfigInput = (c) => c) {
  return (c: ConfigInput): ConfigInput =>
    extra({
      ...c,
      routes: [
        ...c.routes,
        {
          name: 'smarthost',
          type: 'smtp',
          host: '127.0.0.1',
          port,
          tls: { mode: 'none' },
          connectionTimeout: '5s',
          greetingTimeout: '5s',
          socketTimeout: '10s',
        },
      ],
      defaultRoute: 'smarthost',
      spool: { ...c.spool, retrySchedule: '1h' },
    });
}

/** Sends `n` messages with nodemailer and waits until each has had its first (refused) attempt. */
export async function fillQueue(t: TestAppliance, n: number, subject = 'queued'): Promise<string[]> {
  for (let i = 0; i < n; i++)
    await sendMail(t.port, { subject: `${subject} ${i + 1}`, to: `user${i + 1}@example.com` });
  return waitFor(
    async () => {
      const list = await t.app.admin.list('queue');
      const tried = list.filter((e) => e.legs.every((l) => l.attempts > 0));
      return tried.length === n ? tried.map((e) => e.id) : undefined;
    },
    15_000,
    `${n} messages tried once`,
  );
}

export type { ApplianceSandbox };
