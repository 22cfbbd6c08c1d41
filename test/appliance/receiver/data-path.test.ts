// The DATA path's named steps, each driven alone: no SMTP server, no spool directory.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../../../appliance/src/errors.ts';
import {
  type BodySink,
  checkMessage,
  contentFor,
  type DataContext,
  planRoute,
  queuedReply,
  type StreamOutcome,
  spoolHeaderFor,
  streamBody,
  traceHeaderFor,
} from '../../../appliance/src/receiver/data-path.ts';
import { HeaderBlock } from '../../../appliance/src/receiver/header-block.ts';
import { effectivePolicy } from '../../../appliance/src/receiver/policy.ts';
import { compileRules } from '../../../appliance/src/routing/router.ts';
import type { MessageSource } from '../../../appliance/src/spool/record.ts';
import { configWith, message } from '../../helpers/routing/factories.ts';

const DATE = new Date('2026-03-01T10:00:00Z');

function context(patch: Partial<DataContext> = {}): DataContext {
  const config = configWith();
  const listener = config.listeners[0]!;
  const identity = config.identities[0]!;
  return {
    listener,
    identity,
    policy: effectivePolicy(identity, listener),
    session: { ip: '10.1.2.3', via: 'network', identity },
    id: 'entry-1',
    hostname: 'relay.contoso.com',
    mailFrom: 'scanner@contoso.com',
    rcptTo: ['alice@contoso.com'],
    heloName: 'mfd-3',
    esmtp: true,
    secure: false,
    ...patch,
  };
}

/** Collects what step 1 stores; `failAt` makes the n-th write (1-based) fail. */
function memorySink(failAt?: number): BodySink & { parts: Buffer[]; aborted: boolean } {
  let writes = 0;
  const sink = {
    parts: [] as Buffer[],
    aborted: false,
    async write(part: Buffer) {
      writes++;
      if (writes === failAt) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      sink.parts.push(Buffer.from(part));
    },
    async abort() {
      sink.aborted = true;
    },
  };
  return sink;
}

/** Step 1 over `stream` with a fresh content pass and header block. */
function streamInto(stream: Readable, sink: BodySink | undefined, max = 1e6, failure?: unknown) {
  return streamBody(stream, contentFor(context(), DATE), new HeaderBlock(1024), sink, max, failure);
}

const MESSAGE = 'From: scanner@contoso.com\r\nSubject: Scan 7\r\nMessage-ID: <m7@mfd>\r\n\r\nhello\r\n';

describe('step 1, streamBody (stream and size limits)', () => {
  it('stores the message through the content pass and reads its header fields', async () => {
    const ctx = context();
    const sink = memorySink();
    const headers = new HeaderBlock(64 * 1024);
    const outcome = await streamBody(
      Readable.from([Buffer.from(MESSAGE)]),
      contentFor(ctx, DATE),
      headers,
      sink,
      1_000_000,
    );
    expect(outcome).toEqual({ lost: false, tooLarge: false, writeFailed: false });
    const stored = Buffer.concat(sink.parts).toString('latin1');
    expect(stored).toContain('Subject: Scan 7\r\n');
    expect(stored.endsWith('\r\nhello\r\n')).toBe(true);
    expect(headers.fields()).toContainEqual({ name: 'Subject', value: 'Scan 7' });
  });

  it('past maxMessageSize stores nothing more but still drains the stream to its end', async () => {
    const stream = Readable.from([Buffer.from(MESSAGE), Buffer.alloc(5000, 0x61), Buffer.from('\r\n')]);
    const sink = memorySink();
    const outcome = await streamInto(stream, sink, 200);
    expect(outcome.tooLarge).toBe(true);
    expect(outcome.lost).toBe(false);
    expect(stream.readableEnded).toBe(true);
    expect(Buffer.concat(sink.parts).length).toBeLessThanOrEqual(200);
  });

  it("smtp-server's sizeExceeded flag counts as too large", async () => {
    const stream = Object.assign(Readable.from([Buffer.from(MESSAGE)]), { sizeExceeded: true });
    const outcome = await streamInto(stream, memorySink());
    expect(outcome.tooLarge).toBe(true);
  });

  it('a failed write aborts the sink, keeps the cause and drains the rest', async () => {
    const stream = Readable.from([Buffer.from(MESSAGE), Buffer.from('more\r\n')]);
    const sink = memorySink(1);
    const outcome = await streamInto(stream, sink);
    expect(outcome.writeFailed).toBe(true);
    expect((outcome.failure as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(sink.aborted).toBe(true);
    expect(stream.readableEnded).toBe(true);
  });

  it('no sink (the entry could not be opened) is a failed write', async () => {
    const opened = new Error('EACCES');
    const outcome = await streamInto(Readable.from([Buffer.from(MESSAGE)]), undefined, 1e6, opened);
    expect(outcome).toMatchObject({ lost: false, writeFailed: true, failure: opened });
  });

  it('a client that goes away mid-DATA is a lost stream', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const stream = new Readable({
      read() {
        this.push(Buffer.from('Subject: half'));
        this.destroy(reset);
      },
    });
    const outcome = await streamInto(stream, memorySink());
    expect(outcome.lost).toBe(true);
    expect(outcome.streamError).toBe(reset);
  });
});

describe('step 2, checkMessage (size and header checks)', () => {
  const ok: StreamOutcome = { lost: false, tooLarge: false, writeFailed: false };
  const clean = { bytesIn: 100, violation: undefined };
  const policy = context().policy;

  it('passes a clean message', () => {
    expect(checkMessage(ok, clean, policy, 'smtp')).toBeUndefined();
  });

  it('a lost connection wins over everything else: 452 4.3.1, nothing kept', () => {
    const e = checkMessage({ ...ok, lost: true, tooLarge: true, writeFailed: true }, clean, policy, 'smtp');
    expect(e).toMatchObject({ code: 'RELAY_SPOOL_WRITE', responseCode: 452 });
    expect(e?.message).toContain('connection lost during DATA');
  });

  it('a failed write is a temporary 452 naming storage', () => {
    const e = checkMessage({ ...ok, writeFailed: true }, clean, policy, 'smtp');
    expect(e).toMatchObject({ code: 'RELAY_SPOOL_WRITE', responseCode: 452 });
    expect(e?.message).toContain('Insufficient system storage');
  });

  it('too large is 552 5.3.4', () => {
    const e = checkMessage({ ...ok, tooLarge: true }, clean, policy, 'smtp');
    expect(e).toMatchObject({ code: 'RELAY_MESSAGE_TOO_LARGE', responseCode: 552, enhanced: '5.3.4' });
  });

  it("a header the content pass refused keeps its code and names the listener's content key", () => {
    const violation = new RelayError('RELAY_HEADER_TOO_LARGE', '5.3.4 header block too large');
    const e = checkMessage(ok, { bytesIn: 100, violation }, policy, 'smtp');
    expect(e).toMatchObject({ code: 'RELAY_HEADER_TOO_LARGE', responseCode: 552 });
    expect(e?.message).toContain('header block too large');
    expect(e?.detail).toEqual({ rule: 'listeners.smtp.content' });
  });
});

describe('step 3, planRoute (routing plan)', () => {
  const noContent = async (): Promise<MessageSource> => {
    throw new Error('not measured');
  };
  const carries = { refusal: async () => undefined };

  it('plans one pending leg per routed recipient', async () => {
    const rules = compileRules(configWith());
    const plan = await planRoute(rules, carries, message(), {}, 1000, noContent);
    expect(plan.deliveries).toEqual([
      {
        route: 'local',
        recipients: ['alice@contoso.com'],
        rule: 'default', // docs/routing.md: the rule name of defaultRoute
        status: 'pending',
        attempts: [],
        nextAttemptAt: 1000,
      },
    ]);
  });

  it('refuses with the rule reply when no recipient is routed', async () => {
    const rules = compileRules(
      configWith({
        rules: [{ name: 'no-fax', match: { recipient: '*@contoso.com' }, action: { reject: true } }],
      }),
    );
    await expect(planRoute(rules, carries, message(), {}, 1000, noContent)).rejects.toMatchObject({
      code: 'RELAY_RULE_REJECTED',
      responseCode: 550,
    });
  });

  it("refuses with the carry check's error when a leg's routes cannot carry it", async () => {
    const refusal = new RelayError('RELAY_ROUTE_CANNOT_CARRY', 'too big for route local', {
      responseCode: 552,
    });
    const rules = compileRules(configWith());
    await expect(
      planRoute(rules, { refusal: async () => refusal }, message(), {}, 1000, noContent),
    ).rejects.toBe(refusal);
  });
});

describe('step 4, spoolHeaderFor (spool write) and step 5, queuedReply', () => {
  it('records envelope, identity, source and trimmed header facts', () => {
    const ctx = context({
      session: { ip: '10.1.2.3', via: 'auth', authUser: 'mfd', tlsProtocol: 'TLSv1.3' },
      tls: { name: 'TLS_AES_256_GCM_SHA384', version: 'TLSv1/SSLv3' },
    });
    const header = spoolHeaderFor(ctx, [], 5000, '<m7@mfd>', 'x'.repeat(2000));
    expect(header).toEqual({
      version: 1,
      id: 'entry-1',
      receivedAt: 5000,
      envelope: { mailFrom: 'scanner@contoso.com', rcptTo: ['alice@contoso.com'] },
      identity: 'scanners',
      authUser: 'mfd',
      sourceIp: '10.1.2.3',
      listener: 'smtp',
      heloName: 'mfd-3',
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
      messageId: '<m7@mfd>',
      subject: 'x'.repeat(998),
      deliveries: [],
    });
  });

  it('the trace header names the relay, the client and the entry id', () => {
    const text = traceHeaderFor(context(), DATE).toString('latin1');
    expect(text.startsWith('Received: from mfd-3 ([10.1.2.3])')).toBe(true);
    expect(text).toContain('by relay.contoso.com');
    expect(text).toContain('id entry-1');
    expect(text).toContain('Sun, 01 Mar 2026 10:00:00 +0000');
  });

  it('replies 250 text with the queue id', () => {
    expect(queuedReply('abc123')).toBe('2.0.0 Ok: queued as abc123');
  });
});
