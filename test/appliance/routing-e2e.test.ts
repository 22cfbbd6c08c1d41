// Issue 5 end to end: the real appliance in-process (SMTP in through nodemailer → receiver → router →
// spool → engine) with the Entra + Graph simulators, the ACS simulator and an SMTP smarthost sink
// behind it, and `route explain` run on the same config file. Every check holds explain's --json
// output against what the engine actually did (simulator stores, spool legs, trace, metrics), so the
// expected routes come from explain, never from this file.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../appliance/src/config/load.ts';
import type { ConfigInput } from '../../appliance/src/config/schema.ts';
import { main } from '../../appliance/src/main.ts';
import {
  baseConfigInput,
  removeDir,
  startTestAppliance,
  type TestAppliance,
  tempDir,
  waitFor,
} from '../helpers/appliance.ts';
import { captureIo } from '../helpers/io.ts';
import { AcsSimulator } from '../helpers/sim/acs.ts';
import { CLIENT, type Harness, simCloudConfig, startHarness, TENANT } from '../helpers/sim/graph-harness.ts';
import { SmtpSink } from '../helpers/sim/smtp-sink.ts';

const ACS_SENDER = 'DoNotReply@contoso.com';
const ERP_REPLY = {
  code: 550,
  enhanced: '5.7.1',
  message: 'External mail from the ERP system is not allowed',
};
const CONFIDENTIAL_REPLY = {
  code: 554,
  enhanced: '5.7.1',
  message: 'Confidential mail stays inside contoso',
};
/** Graph mailbox whose Exchange MaxSendSize is tiny, so the Graph simulator refuses its mail for size. */
const SMALL_MAILBOX = 'small@contoso.com';

let h: Harness;
let acs: AcsSimulator;
let sink: SmtpSink;
let dir: string;
let configFile: string;
let t: TestAppliance;

function routing(c: ConfigInput): ConfigInput {
  return {
    ...c,
    acceptedDomains: ['contoso.com'],
    routes: [
      {
        name: 'graph',
        type: 'graph',
        tenantId: TENANT,
        clientId: CLIENT,
        clientSecret: 'graph-secret',
        messagesPerMinute: 6000,
        requestTimeout: '10s',
        fallback: 'smarthost',
      },
      {
        name: 'acs',
        type: 'acs',
        auth: { type: 'accessKey', connectionString: 'acs-key' },
        senderAddress: ACS_SENDER,
        pollInterval: '20ms',
        requestTimeout: '10s',
        fallback: 'graph',
      },
      {
        name: 'smarthost',
        type: 'smtp',
        host: '127.0.0.1',
        port: sink.port,
        tls: { mode: 'none' },
        connectionTimeout: '5s',
        greetingTimeout: '5s',
        socketTimeout: '10s',
      },
    ],
    defaultRoute: 'graph',
    rules: [
      {
        name: 'erp-internal-only',
        match: { mailFrom: 'erp@contoso.com', external: true },
        action: { reject: ERP_REPLY },
      },
      {
        name: 'confidential-stays-inside',
        match: { external: true, header: { name: 'Subject', value: ['*CONFIDENTIAL*'] } },
        action: { reject: CONFIDENTIAL_REPLY },
      },
      { name: 'external-via-acs', match: { external: true }, action: { route: 'acs' } },
    ],
    credentials: {
      'graph-secret': { file: join(h.dir, 'secret.txt') },
      'acs-key': { file: join(dir, 'acs-key.txt') },
    },
    cloud: simCloudConfig(h, '5s'),
  };
}

beforeAll(async () => {
  h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [
      { address: 'scanner@contoso.com' },
      { address: 'erp@contoso.com' },
      { address: SMALL_MAILBOX, maxSendSize: 64 * 1024 },
    ],
  });
  acs = new AcsSimulator({ senders: [ACS_SENDER] });
  await acs.start();
  sink = new SmtpSink({ tls: 'none' });
  await sink.start();
  dir = await tempDir('relaykit-routing-e2e-');
  await writeFile(join(dir, 'acs-key.txt'), `${acs.connectionString}\n`, { mode: 0o600 });
  t = await startTestAppliance(dir, routing);
  // The very input the appliance runs on (startTestAppliance patches baseConfigInput), written as the
  // file `route explain` reads (JSON is YAML).
  configFile = join(dir, 'config.yaml');
  await writeFile(configFile, JSON.stringify(routing(baseConfigInput(dir)), null, 2));
  expect(loadConfig(configFile).config.rules).toEqual(t.config.rules);
}, 20_000);

afterAll(async () => {
  await t?.stop();
  await sink?.close();
  await acs?.close();
  await h?.close();
  if (dir) await removeDir(dir);
});

// ---- what explain says -----------------------------------------------------------------------------

interface Leg {
  route: string;
  rule: string;
  recipients: string[];
  fallbacks: string[];
  /** The route explain says will carry it (the planned one, or a fallback for size). */
  carriedBy: string;
}
interface Rejection {
  rule: string;
  recipients: string[];
  responseCode: number;
  enhanced: string;
  message: string;
  at: 'RCPT' | 'DATA';
}
interface Explained {
  exit: number;
  legs: Leg[];
  rejections: Rejection[];
}

async function explain(m: {
  from: string;
  to: readonly string[];
  size?: number;
  subject?: string;
}): Promise<Explained> {
  const io = captureIo();
  const exit = await main(
    [
      'route',
      'explain',
      '--config',
      configFile,
      '--source-ip',
      '127.0.0.1',
      '--from',
      m.from,
      ...m.to.flatMap((r) => ['--to', r]),
      '--size',
      String(m.size ?? 0),
      ...(m.subject === undefined ? [] : ['--header', `Subject: ${m.subject}`]),
      '--json',
    ],
    io,
  );
  expect(io.err()).not.toMatch(/error|unknown/i);
  return { exit, ...(JSON.parse(io.out()) as { legs: Leg[]; rejections: Rejection[] }) };
}

const reply = (r: Rejection) => `${r.responseCode} ${r.enhanced} ${r.message}`;

// ---- what the engine did ---------------------------------------------------------------------------

const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase()).sort();

/** Recipients of each message that reached each route's far end with this subject, per route name. */
type Stores = Record<'graph' | 'acs' | 'smarthost', string[][]>;

function stores(subject: string): Stores {
  const acsSent = acs.sent.filter((s) => s.message.content.subject === subject);
  return {
    graph: h.graph.delivered.filter((d) => d.subject === subject).map((d) => lower(d.recipients)),
    acs: acsSent.map((s) => {
      const r = s.message.recipients;
      return lower([...r.to, ...(r.cc ?? []), ...(r.bcc ?? [])].map((a) => a.address));
    }),
    smarthost: sink.messages
      .filter((m) => m.raw.toString('latin1').includes(`\r\nSubject: ${subject}\r\n`))
      .map((m) => lower(m.rcptTo)),
  };
}

interface TraceEvent {
  id: string;
  event: string;
  [k: string]: unknown;
}

async function trace(): Promise<TraceEvent[]> {
  const folder = join(dir, 'spool', 'trace');
  const events: TraceEvent[] = [];
  for (const name of (await readdir(folder)).sort()) {
    const text = await readFile(join(folder, name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') events.push(JSON.parse(line) as TraceEvent);
  }
  return events;
}

/** The trace of one message (found by its Message-ID), once every leg has finished. */
async function settled(messageId: string): Promise<TraceEvent[]> {
  return waitFor(
    async () => {
      const all = await trace();
      const received = all.find((e) => e.event === 'received' && e.messageId === messageId);
      if (!received) return undefined;
      const mine = all.filter((e) => e.id === received.id);
      const legs = (received.routes as string[]).length;
      const finished = new Set(mine.filter((e) => e.event === 'delivered').map((e) => e.leg));
      const dead = mine.some((e) => e.event === 'dead');
      if (finished.size < legs && !dead) return undefined;
      if ((await t.app.spool.list('queue')).some((q) => q.header.id === received.id)) return undefined;
      return mine;
    },
    20_000,
    `message ${messageId} settled`,
  );
}

/** [route, rule] per leg as the receiver routed it, from the `received` trace event. */
function intakeLegs(events: TraceEvent[]): [string, string][] {
  const received = events.find((e) => e.event === 'received') as TraceEvent;
  const routes = received.routes as string[];
  const rules = received.rules as string[];
  return routes.map((r, i) => [r, rules[i] as string]);
}

/** The route that finally delivered each leg (after any fallback), by leg index. */
function deliveredRoute(events: TraceEvent[]): Map<number, string> {
  return new Map(
    events.filter((e) => e.event === 'delivered').map((e) => [e.leg as number, e.route as string]),
  );
}

/** Per route: the recipient groups explain expects there, when each leg ends on `final(leg)`. */
function expectedStores(
  legs: Leg[],
  final: (leg: Leg) => string = (l) => l.route,
): Record<string, string[][]> {
  const out: Record<string, string[][]> = { graph: [], acs: [], smarthost: [] };
  for (const leg of legs) out[final(leg)]?.push(lower(leg.recipients));
  for (const k of Object.keys(out)) out[k]?.sort();
  return out;
}

function sortedStores(subject: string): Stores {
  const s = stores(subject);
  for (const list of Object.values(s)) list.sort();
  return s;
}

// ---- SMTP client -----------------------------------------------------------------------------------

interface Sent {
  messageId: string;
  accepted: string[];
  rejected: string[];
  rejectedResponses: string[];
}

async function send(mail: {
  from: string;
  to: string[];
  bcc?: string[];
  subject: string;
  attachment?: Buffer;
}): Promise<Sent> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: t.port, ignoreTLS: true });
  try {
    const info = await client.sendMail({
      from: mail.from,
      to: mail.to,
      ...(mail.bcc ? { bcc: mail.bcc } : {}),
      subject: mail.subject,
      text: `body of ${mail.subject}`,
      ...(mail.attachment ? { attachments: [{ filename: 'scan.pdf', content: mail.attachment }] } : {}),
    });
    const errors = (info as { rejectedErrors?: { response: string }[] }).rejectedErrors ?? [];
    return {
      messageId: info.messageId,
      accepted: (info.accepted as string[]).map(String),
      rejected: (info.rejected as string[]).map(String),
      rejectedResponses: errors.map((e) => e.response),
    };
  } finally {
    client.close();
  }
}

async function sendRefused(mail: { from: string; to: string[]; subject: string }) {
  const err = await send(mail).then(
    () => undefined,
    (e: unknown) => e as { response?: string; responseCode?: number; command?: string },
  );
  if (err === undefined) throw new Error(`"${mail.subject}" was accepted; a rejection was expected`);
  return err;
}

async function spoolIsEmptyOf(subject: string): Promise<void> {
  expect((await t.app.spool.list('queue')).filter((e) => e.header.subject === subject)).toEqual([]);
  expect((await t.app.spool.list('dead')).filter((e) => e.header.subject === subject)).toEqual([]);
  expect(await readdir(join(dir, 'spool', 'incoming'))).toEqual([]);
}

// ---- the scenarios ---------------------------------------------------------------------------------

describe('routing end to end: Graph, ACS, smarthost and explain agree', () => {
  it('splits one message: internal To and Bcc through Graph, the external recipient through ACS', async () => {
    const subject = 'e2e split';
    const mail = {
      from: 'scanner@contoso.com',
      to: ['alice@contoso.com', 'carol@fabrikam.com'],
      bcc: ['bob@contoso.com'],
      subject,
    };
    const sent = await send(mail);
    expect(sent.rejected).toEqual([]);
    const events = await settled(sent.messageId);

    const envelope = [...mail.to, ...mail.bcc];
    const size = (events.find((e) => e.event === 'received') as TraceEvent).size as number;
    const ex = await explain({ from: mail.from, to: envelope, size, subject });
    expect(ex.exit).toBe(0);
    expect(ex.rejections).toEqual([]);
    // The engine split the message the way explain says: one leg per rule, same route and rule.
    expect(intakeLegs(events)).toEqual(ex.legs.map((l) => [l.route, l.rule]));
    expect([...deliveredRoute(events).values()].sort()).toEqual(ex.legs.map((l) => l.route).sort());
    // Exactly one message in each simulator, holding exactly explain's recipients (Bcc included), and
    // nothing anywhere else.
    expect(sortedStores(subject)).toEqual(expectedStores(ex.legs));
    // The split really is two services (so the comparison above is not vacuous).
    expect(new Set(ex.legs.map((l) => l.route))).toEqual(new Set(['graph', 'acs']));
    const graphCopy = h.graph.delivered.find((d) => d.subject === subject);
    expect(graphCopy?.bcc.map((b) => b.toLowerCase())).toEqual(['bob@contoso.com']);
    expect(graphCopy?.recipients).not.toContain('carol@fabrikam.com');
    await spoolIsEmptyOf(subject);
  });

  it('a message over ACS’s 10 MB request limit takes the ACS route’s fallback to Graph', async () => {
    const subject = 'e2e too large for acs';
    const acsRequests = acs.requests.length;
    const before = await t.app.metrics.get('relaykit_fallback_total', { from: 'acs', to: 'graph' });
    // 8 MB of attachment is ~10.8 MB once base64-encoded: over ACS's per-request cap, under Graph's.
    const mail = { from: 'scanner@contoso.com', to: ['dave@fabrikam.com'], subject };
    const sent = await send({ ...mail, attachment: randomBytes(8 * 1024 * 1024) });
    const events = await settled(sent.messageId);

    const size = (events.find((e) => e.event === 'received') as TraceEvent).size as number;
    const ex = await explain({ ...mail, size, subject });
    expect(ex.exit).toBe(0);
    expect(intakeLegs(events)).toEqual(ex.legs.map((l) => [l.route, l.rule]));
    const [leg] = ex.legs as [Leg];
    // The trace shows both routes: the leg left the rule's route for the first route of explain's
    // fallback chain, which delivered it.
    const fallbacks = events.filter((e) => e.event === 'fallback');
    expect(fallbacks.map((e) => [e.from, e.to, e.code])).toEqual([
      [leg.route, leg.fallbacks[0], 'RELAY_ACS_TOO_LARGE'],
    ]);
    expect([...deliveredRoute(events).values()]).toEqual([leg.fallbacks[0]]);
    // explain knew in advance: the route's size limit sends it to the fallback that delivered it.
    expect(leg.carriedBy).toBe(leg.fallbacks[0]);
    expect(sortedStores(subject)).toEqual(expectedStores(ex.legs, (l) => l.fallbacks[0] as string));
    expect(h.graph.delivered.find((d) => d.subject === subject)?.via).toBe('draft');
    // ACS was never sent the oversized request; the transport knew its limit.
    expect(acs.requests.length).toBe(acsRequests);
    expect(await t.app.metrics.get('relaykit_fallback_total', { from: 'acs', to: 'graph' })).toBe(before + 1);
    expect(await t.app.metrics.render()).toMatch(/relaykit_fallback_total\{from="acs",to="graph"\} [1-9]/);
    await spoolIsEmptyOf(subject);
  }, 30_000);

  it('a message over the Graph mailbox’s MaxSendSize takes the Graph route’s fallback to the smarthost', async () => {
    const subject = 'e2e over mailbox limit';
    const before = await t.app.metrics.get('relaykit_fallback_total', { from: 'graph', to: 'smarthost' });
    const mail = { from: SMALL_MAILBOX, to: ['alice@contoso.com'], subject };
    const sent = await send({ ...mail, attachment: randomBytes(100 * 1024) });
    const events = await settled(sent.messageId);

    const size = (events.find((e) => e.event === 'received') as TraceEvent).size as number;
    const ex = await explain({ ...mail, size, subject });
    expect(intakeLegs(events)).toEqual(ex.legs.map((l) => [l.route, l.rule]));
    const [leg] = ex.legs as [Leg];
    // Graph itself (the simulator enforcing the mailbox limit) refused it; the fallback delivered it.
    const fallbacks = events.filter((e) => e.event === 'fallback');
    expect(fallbacks.map((e) => [e.from, e.to, e.code])).toEqual([
      [leg.route, leg.fallbacks[0], 'RELAY_GRAPH_MESSAGE_TOO_LARGE'],
    ]);
    expect([...deliveredRoute(events).values()]).toEqual([leg.fallbacks[0]]);
    expect(sortedStores(subject)).toEqual(expectedStores(ex.legs, (l) => l.fallbacks[0] as string));
    expect(await t.app.metrics.get('relaykit_fallback_total', { from: 'graph', to: 'smarthost' })).toBe(
      before + 1,
    );
    await spoolIsEmptyOf(subject);
  });

  it('a rule rejects at RCPT with its exact reply; the other recipient is delivered', async () => {
    const subject = 'e2e erp';
    const mail = { from: 'erp@contoso.com', to: ['alice@contoso.com', 'eve@fabrikam.com'], subject };
    const sent = await send(mail);
    const ex = await explain({ ...mail, subject });
    expect(ex.exit).toBe(3);
    // The device got the rule's reply at RCPT for exactly the recipients explain rejects there.
    const [rejection] = ex.rejections as [Rejection];
    expect(ex.rejections).toHaveLength(1);
    expect(rejection.at).toBe('RCPT');
    expect(sent.rejected).toEqual(rejection.recipients);
    expect(sent.rejectedResponses).toEqual([reply(rejection)]);
    expect(reply(rejection)).toBe(`${ERP_REPLY.code} ${ERP_REPLY.enhanced} ${ERP_REPLY.message}`);
    expect(rejection.rule).toBe('erp-internal-only');

    const events = await settled(sent.messageId);
    expect(intakeLegs(events)).toEqual(ex.legs.map((l) => [l.route, l.rule]));
    expect(sortedStores(subject)).toEqual(expectedStores(ex.legs));
    await spoolIsEmptyOf(subject);
  });

  it('a header rule refuses the whole message after DATA with its exact reply; nothing is spooled', async () => {
    const subject = 'CONFIDENTIAL e2e only external';
    const queued = (await t.app.spool.list('queue')).length;
    const dead = (await t.app.spool.list('dead')).length;
    const mail = { from: 'scanner@contoso.com', to: ['frank@fabrikam.com', 'gina@fabrikam.com'], subject };
    const err = await sendRefused(mail);
    const ex = await explain({ ...mail, size: 1000, subject });
    expect(ex.exit).toBe(3);
    expect(ex.legs).toEqual([]);
    const [rejection] = ex.rejections as [Rejection];
    expect(ex.rejections).toHaveLength(1);
    expect(rejection.at).toBe('DATA');
    expect(rejection.recipients).toEqual(mail.to);
    expect(err.command).toBe('DATA');
    expect(err.response).toBe(reply(rejection));
    expect(reply(rejection)).toBe(
      `${CONFIDENTIAL_REPLY.code} ${CONFIDENTIAL_REPLY.enhanced} ${CONFIDENTIAL_REPLY.message}`,
    );

    expect((await t.app.spool.list('queue')).length).toBe(queued);
    expect((await t.app.spool.list('dead')).length).toBe(dead);
    await spoolIsEmptyOf(subject);
    expect(sortedStores(subject)).toEqual(expectedStores([]));
  });

  it('a header rule reads an RFC 2047 Subject as decoded (the decoder is loaded at start, not with the first such message)', async () => {
    // "CONFIDENTIAL e2e encoded" in Base64: the rule's *CONFIDENTIAL* matches only the decoded text.
    const encoded = `=?UTF-8?B?${Buffer.from('CONFIDENTIAL e2e encoded').toString('base64')}?=`;
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: t.port, ignoreTLS: true });
    const err = await client
      .sendMail({
        from: 'scanner@contoso.com',
        to: ['frank@fabrikam.com'],
        headers: { Subject: { prepared: true, value: encoded } },
        text: 'body',
      })
      .then(
        () => undefined,
        (e: unknown) => e as { response?: string; command?: string },
      )
      .finally(() => client.close());
    expect(err?.command).toBe('DATA');
    expect(err?.response).toBe(
      `${CONFIDENTIAL_REPLY.code} ${CONFIDENTIAL_REPLY.enhanced} ${CONFIDENTIAL_REPLY.message}`,
    );
    const ex = await explain({
      from: 'scanner@contoso.com',
      to: ['frank@fabrikam.com'],
      size: 1000,
      subject: encoded,
    });
    expect(ex.exit).toBe(3);
    expect(ex.rejections.map(reply)).toEqual([err?.response]);
  });

  it('a header rule refuses one recipient after DATA: the others are delivered, the refused one is a dead leg with the reason', async () => {
    const subject = 'CONFIDENTIAL e2e mixed';
    const mail = { from: 'scanner@contoso.com', to: ['alice@contoso.com', 'hank@fabrikam.com'], subject };
    const sent = await send(mail);
    // Accepted at RCPT (the rule needs the header), so the client sees every recipient accepted.
    expect(sent.rejected).toEqual([]);
    const events = await settled(sent.messageId);
    const size = (events.find((e) => e.event === 'received') as TraceEvent).size as number;
    const ex = await explain({ ...mail, size, subject });
    expect(ex.exit).toBe(3);
    const [rejection] = ex.rejections as [Rejection];
    expect(ex.rejections).toHaveLength(1);
    expect(rejection.at).toBe('DATA');

    // The entry is in the dead-letter folder, holding the delivered legs and the refused group, each
    // under explain's rule, with the rule's reply as the reason.
    const entry = await waitFor(
      async () => (await t.app.spool.list('dead')).find((e) => e.header.subject === subject),
      5000,
      'dead entry',
    );
    const delivered = entry.deliveries.filter((d) => d.status === 'delivered');
    const refused = entry.deliveries.filter((d) => d.status === 'dead');
    expect(delivered.map((d) => [d.route, d.rule, [...d.recipients]])).toEqual(
      ex.legs.map((l) => [l.route, l.rule, l.recipients]),
    );
    expect(refused.map((d) => [d.rule, [...d.recipients], d.deadReason])).toEqual([
      [rejection.rule, rejection.recipients, `RELAY_RULE_REJECTED: ${reply(rejection)}`],
    ]);
    expect(sortedStores(subject)).toEqual(expectedStores(ex.legs));
    expect(stores(subject).graph.flat()).not.toContain('hank@fabrikam.com');
    expect((await t.app.spool.list('queue')).filter((e) => e.header.subject === subject)).toEqual([]);
  });
});
