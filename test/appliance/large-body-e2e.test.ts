// Large single-part bodies through Graph routes, end to end (issue 15): a real SMTP client (nodemailer)
// → receiver → spool → engine → Graph / ACS simulators. A body that does not fit
// in a Graph draft request (reference A3: ~4 MB per request, only attachments upload) is delivered by
// the route's fallback, carried as an attachment where the route says so, or refused with 552 before
// the 250 naming the limit. Never 250 then dead.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../appliance/src/config/schema.ts';
import { removeDir, startTestAppliance, type TestAppliance, tempDir, waitFor } from '../helpers/appliance.ts';
import { AcsSimulator } from '../helpers/sim/acs.ts';
import { CLIENT, type Harness, simCloudConfig, startHarness, TENANT } from '../helpers/sim/graph-harness.ts';

const MiB = 1024 * 1024;
const ACS_SENDER = 'DoNotReply@contoso.com';
/** Reference A3: a body over ~3 MB does not fit a draft request; the route's default maxBodySize. */
const GRAPH_BODY_LIMIT = 3 * MiB;

let h: Harness;
let acs: AcsSimulator;
let dir: string;
let t: TestAppliance;

function config(c: ConfigInput): ConfigInput {
  const graph = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    type: 'graph' as const,
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: 'graph-secret',
    messagesPerMinute: 6000,
    requestTimeout: '30s',
    ...extra,
  });
  return {
    ...c,
    acceptedDomains: ['contoso.com'],
    routes: [
      graph('graph-only'),
      graph('graph-then-acs', { fallback: 'acs' }),
      graph('graph-attach', { oversizeBody: 'attach' }),
      {
        name: 'acs',
        type: 'acs',
        auth: { type: 'accessKey', connectionString: 'acs-key' },
        senderAddress: ACS_SENDER,
        pollInterval: '20ms',
        requestTimeout: '30s',
      },
    ],
    defaultRoute: 'graph-only',
    rules: [
      {
        name: 'to-fallback',
        match: { recipient: 'fallback@contoso.com' },
        action: { route: 'graph-then-acs' },
      },
      { name: 'to-attach', match: { recipient: 'attach@contoso.com' }, action: { route: 'graph-attach' } },
    ],
    credentials: {
      'graph-secret': { file: join(h.dir, 'secret.txt') },
      'acs-key': { file: join(dir, 'acs-key.txt') },
    },
    cloud: simCloudConfig(h, '10s'),
  };
}

beforeAll(async () => {
  h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [{ address: 'scanner@contoso.com', maxSendSize: 150 * MiB }],
  });
  acs = new AcsSimulator({ senders: [ACS_SENDER, 'scanner@contoso.com'] });
  await acs.start();
  dir = await tempDir('relaykit-large-body-');
  await writeFile(join(dir, 'acs-key.txt'), `${acs.connectionString}\n`, { mode: 0o600 });
  t = await startTestAppliance(dir, config);
}, 30_000);

afterAll(async () => {
  await t?.stop();
  await acs?.close();
  await h?.close();
  if (dir) await removeDir(dir);
});

/** A body of `size` bytes in 76-character lines, plain text or one HTML paragraph. */
function body(size: number, kind: 'text' | 'html'): string {
  const line = `${'relaykit large body '.repeat(4).slice(0, 74)}\r\n`;
  const inner = line.repeat(Math.ceil(size / line.length)).slice(0, size);
  return kind === 'html' ? `<html><body><pre>${inner}</pre></body></html>` : inner;
}

type Reply = { accepted: true } | { accepted: false; code: number | undefined; text: string };

async function send(to: string, subject: string, size: number, kind: 'text' | 'html'): Promise<Reply> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: t.port, ignoreTLS: true });
  try {
    await client.sendMail({ from: 'scanner@contoso.com', to, subject, [kind]: body(size, kind) });
    return { accepted: true };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string };
    return { accepted: false, code: e.responseCode, text: e.response ?? String(err) };
  } finally {
    client.close();
  }
}

const graphGot = (subject: string) => () => h.graph.delivered.find((d) => d.subject === subject);
const acsGot = (subject: string) => () => acs.sent.find((s) => s.message.content.subject === subject);

async function noDeadLetter(subject: string): Promise<void> {
  expect((await t.app.spool.list('dead')).filter((e) => e.header.subject === subject)).toEqual([]);
}

async function queued(subject: string): Promise<number> {
  return (await t.app.spool.list('queue')).filter((e) => e.header.subject === subject).length;
}

describe.each(['text', 'html'] as const)('single-part %s bodies through Graph', (kind) => {
  it('2 MB: every route delivers it through Graph in one sendMail', async () => {
    for (const to of ['only@contoso.com', 'fallback@contoso.com', 'attach@contoso.com']) {
      const subject = `${kind} 2MB to ${to}`;
      expect(await send(to, subject, 2 * MiB, kind)).toEqual({ accepted: true });
      const got = await waitFor(graphGot(subject), 20_000, subject);
      expect(got.via).toBe('sendMail');
      // Parsers hand the body back with LF line ends: 2 of every 76 bytes.
      expect((got[kind] ?? '').length).toBeGreaterThan(2 * MiB * 0.97);
      await noDeadLetter(subject);
    }
  });

  it('5 MB: no fallback → 552 before 250; ACS fallback → delivered by ACS; attach → Graph with the body attached', async () => {
    const refused = await send('only@contoso.com', `${kind} 5MB only`, 5 * MiB, kind);
    expect(refused).toMatchObject({ accepted: false, code: 552 });
    if (refused.accepted) return;
    expect(refused.text).toContain('5.3.4');
    expect(refused.text).toContain(`route graph-only takes a body size of at most ${GRAPH_BODY_LIMIT} bytes`);
    expect(await queued(`${kind} 5MB only`)).toBe(0);

    const viaAcs = `${kind} 5MB fallback`;
    expect(await send('fallback@contoso.com', viaAcs, 5 * MiB, kind)).toEqual({ accepted: true });
    const sent = await waitFor(acsGot(viaAcs), 30_000, viaAcs);
    const content = sent.message.content;
    expect((kind === 'html' ? content.html : content.plainText)?.length).toBeGreaterThan(5 * MiB * 0.97);
    expect(graphGot(viaAcs)()).toBeUndefined();
    await noDeadLetter(viaAcs);

    const attached = `${kind} 5MB attach`;
    expect(await send('attach@contoso.com', attached, 5 * MiB, kind)).toEqual({ accepted: true });
    const got = await waitFor(graphGot(attached), 30_000, attached);
    expect(got.via).toBe('draft');
    expect(got.text ?? '').toMatch(/is attached as message\.(html|txt)/);
    const att = got.attachments.find((a) => a.name === (kind === 'html' ? 'message.html' : 'message.txt'));
    expect(att?.size).toBeGreaterThanOrEqual(5 * MiB);
    await noDeadLetter(attached);
  }, 120_000);

  it('20 MB: over ACS too → 552 naming both limits; attach → Graph with the body attached', async () => {
    for (const to of ['only@contoso.com', 'fallback@contoso.com']) {
      const subject = `${kind} 20MB to ${to}`;
      const reply = await send(to, subject, 20 * MiB, kind);
      expect(reply).toMatchObject({ accepted: false, code: 552 });
      if (reply.accepted) continue;
      expect(reply.text).toContain(`takes a body size of at most ${GRAPH_BODY_LIMIT} bytes`);
      if (to.startsWith('fallback'))
        expect(reply.text).toContain(
          `route acs takes a message size of at most ${Math.floor((10 * MiB) / 1.05)}`,
        );
      expect(await queued(subject)).toBe(0);
    }
    const attached = `${kind} 20MB attach`;
    expect(await send('attach@contoso.com', attached, 20 * MiB, kind)).toEqual({ accepted: true });
    const got = await waitFor(graphGot(attached), 60_000, attached);
    const att = got.attachments.find((a) => a.name.startsWith('message.'));
    expect(att?.size).toBeGreaterThanOrEqual(20 * MiB);
    await noDeadLetter(attached);
  }, 180_000);
});
