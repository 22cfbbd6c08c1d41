// Pure parts of the Graph transport: Retry-After parsing, the small path's header fix-ups, RFC 2047
// decoding, the classification rows and the limiter's pacing and concurrency (fast-check).
import fc from 'fast-check';
import addressparser from 'nodemailer/lib/addressparser';
import { describe, expect, it } from 'vitest';
import { classify, type FailureFacts } from '../../../../appliance/src/delivery/classify.ts';
import { MailboxLimiter, paceInterval } from '../../../../appliance/src/delivery/graph/graph-limiter.ts';
import { parseAddresses, prepareSendMailMime } from '../../../../appliance/src/delivery/graph/graph-mime.ts';
import { decodeEncodedWords as decodeWords } from '../../../../appliance/src/mime-text.ts';
import { parseRetryAfter as retryAfterMs } from '../../../../appliance/src/net/http-failure.ts';

describe('retryAfterMs', () => {
  it('reads delta-seconds and HTTP-dates, and ignores junk', () => {
    const now = Date.parse('Sun, 22 Nov 2026 01:00:00 GMT');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Sun, 22 Nov 2026 01:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 00:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('prepareSendMailMime', () => {
  const msg = (head: string, eol = '\r\n') =>
    Buffer.from(`${head.split('\n').join(eol)}${eol}${eol}body${eol}`, 'latin1');

  it('adds envelope-only recipients as one Bcc and leaves the body alone', () => {
    const out = prepareSendMailMime(msg('From: a@x.com\nTo: B <b@x.com>\nSubject: s'), {
      recipients: ['b@x.com', 'c@y.com', 'D@y.com'],
    });
    expect(out.addedBcc).toEqual(['c@y.com', 'D@y.com']);
    expect(out.foreignRecipients).toEqual([]);
    const text = out.mime.toString('latin1');
    expect(text).toMatch(/\r\nBcc: c@y\.com,\r\n D@y\.com\r\n\r\nbody\r\n$/);
    expect(text.startsWith('From: a@x.com\r\nTo: B <b@x.com>\r\nSubject: s\r\n')).toBe(true);
  });

  it('merges into an existing Bcc, matches case-insensitively and reports foreign header recipients', () => {
    const out = prepareSendMailMime(msg('To: b@x.com, other@z.com\nBcc: hidden@x.com\nSubject: s', '\n'), {
      recipients: ['B@X.com', 'hidden@x.com', 'new@x.com'],
    });
    expect(out.foreignRecipients).toEqual(['other@z.com']);
    expect(out.mime.toString('latin1')).toContain('Bcc: hidden@x.com,\n new@x.com\n');
    expect(out.mime.toString('latin1').match(/^Bcc:/gim)).toHaveLength(1);
  });

  it('rewrites From to the mailbox and keeps the old From as Reply-To', () => {
    const out = prepareSendMailMime(msg('From: "Scanner 3" <mfp@device.local>\nTo: b@x.com'), {
      recipients: ['b@x.com'],
      rewriteFromTo: 'printer@contoso.com',
    });
    const text = out.mime.toString('latin1');
    expect(text).toContain('Reply-To: "Scanner 3" <mfp@device.local>\r\n');
    expect(text).toContain('From: printer@contoso.com\r\n');
    expect(text.match(/^From:/gm)).toHaveLength(1);
  });

  it('sends a message whose header needs nothing as it is, and ends a header-only one with its blank line', () => {
    const raw = msg('From: a@x.com\nTo: b@x.com\nSubject: s');
    const out = prepareSendMailMime(raw, { recipients: ['b@x.com'] });
    expect(out.mime).toBe(raw);
    expect(out.addedBcc).toEqual([]);
    const headOnly = Buffer.from('From: a@x.com\r\nTo: b@x.com\r\n', 'latin1');
    expect(prepareSendMailMime(headOnly, { recipients: ['b@x.com'] }).mime.toString('latin1')).toBe(
      'From: a@x.com\r\nTo: b@x.com\r\n\r\n',
    );
  });

  it('reads a bare address without addressparser and everything else with it, to the same result', () => {
    const values = [
      'b@x.com',
      'first.last+tag@sub.example.co.uk',
      'B <b@x.com>',
      '"Last, First" <lf@x.com>',
      'b@x.com, c@y.com',
      'b@x.com (front desk)',
      'undisclosed-recipients:;',
      'team: a@x.com, b@x.com;',
      ' b@x.com',
      'b@[192.0.2.1]',
      'no-at-sign',
    ];
    for (const v of values) {
      const expected = addressparser(v, { flatten: true })
        .filter((a) => a.address !== '')
        .map((a) => (a.name ? { address: a.address, name: a.name } : { address: a.address }));
      expect(parseAddresses(v), v).toEqual(expected);
    }
  });

  it('keeps 8-bit header bytes intact', () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: '),
      Buffer.from('Grüße', 'utf8'),
      Buffer.from('\r\nTo: b@x.com\r\n\r\nx'),
    ]);
    const out = prepareSendMailMime(raw, { recipients: ['b@x.com'] });
    expect(out.mime.equals(raw)).toBe(true);
  });
});

describe('decodeWords', () => {
  it('decodes B and Q words and joins adjacent ones', () => {
    expect(decodeWords('=?UTF-8?B?R3LDvMOfZQ==?= =?UTF-8?Q?_aus_K=C3=B6ln?=')).toBe('Grüße aus Köln');
    expect(decodeWords('=?iso-8859-1?Q?J=FCrgen?= <j@x.com>')).toBe('Jürgen <j@x.com>');
    expect(decodeWords('plain')).toBe('plain');
  });
});

describe('Graph classification rows', () => {
  const graph = (f: Omit<FailureFacts, 'transport'>) => classify({ ...f, transport: 'graph' });
  it('maps each documented Graph error to its code, outcome and hint', () => {
    expect(graph({ httpStatus: 403, serviceCode: 'ErrorSendAsDenied' })).toMatchObject({
      outcome: 'permanent',
      code: 'RELAY_GRAPH_SEND_AS_DENIED',
    });
    expect(
      graph({ httpStatus: 403, serviceCode: 'ErrorAccessDenied', message: 'Access to OData is disabled.' }),
    ).toMatchObject({
      code: 'RELAY_GRAPH_ACCESS_DENIED',
      hint: expect.stringContaining('ApplicationAccessPolicy'),
    });
    expect(
      graph({ httpStatus: 403, serviceCode: 'ErrorAccessDenied', operation: 'createDraft' }),
    ).toMatchObject({
      code: 'RELAY_GRAPH_PERMISSION_MISSING',
      hint: expect.stringContaining('e2a3a72e-5f79-4c64-b1b1-878b674786c9'),
    });
    expect(graph({ httpStatus: 403, serviceCode: 'ErrorAccessDenied', operation: 'sendMail' })).toMatchObject(
      {
        code: 'RELAY_GRAPH_ACCESS_DENIED',
        hint: expect.stringContaining('Application Mail.Send'),
      },
    );
    expect(graph({ httpStatus: 404, serviceCode: 'MailboxNotEnabledForRESTAPI' })).toMatchObject({
      code: 'RELAY_GRAPH_MAILBOX_NOT_ENABLED',
    });
    expect(graph({ httpStatus: 400, serviceCode: 'ErrorMessageSizeExceeded' })).toMatchObject({
      code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
      fallbackEligible: true,
      hint: expect.stringContaining('MaxSendSize'),
    });
    expect(graph({ httpStatus: 413 })).toMatchObject({
      outcome: 'permanent',
      code: 'RELAY_GRAPH_REQUEST_TOO_LARGE',
    });
    expect(graph({ httpStatus: 401, serviceCode: 'InvalidAuthenticationToken' })).toMatchObject({
      outcome: 'transient',
      code: 'RELAY_GRAPH_TOKEN_REJECTED',
    });
    expect(graph({ httpStatus: 429 })).toMatchObject({ outcome: 'transient', code: 'RELAY_THROTTLED' });
    expect(graph({ httpStatus: 503 })).toMatchObject({ outcome: 'transient' });
    expect(
      graph({ httpStatus: 404, serviceCode: 'ErrorItemNotFound', operation: 'uploadChunk' }),
    ).toMatchObject({
      outcome: 'transient',
    });
  });

  it('flags a 504 or a timeout after the request was sent as a possible duplicate', () => {
    expect(graph({ httpStatus: 504, requestSent: true }).possibleDuplicate).toBe(true);
    expect(graph({ errno: 'TIMEOUT', requestSent: true })).toMatchObject({
      outcome: 'transient',
      possibleDuplicate: true,
    });
    expect(graph({ errno: 'ECONNREFUSED', requestSent: false }).possibleDuplicate).toBe(false);
  });
});

describe('MailboxLimiter', () => {
  it('paces so M + 1 starts never fit in 60 s, while still reaching 98% of M per minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (m) => {
        const gap = paceInterval(m);
        return m * gap > 60_000 && gap <= (60_000 / m) * 1.02 + 1;
      }),
    );
  });

  it('never runs more than maxConcurrent requests at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 }),
        async (max, delays) => {
          const l = new MailboxLimiter({ maxConcurrent: max, messagesPerMinute: 60_000, now: Date.now });
          let active = 0;
          let peak = 0;
          const signal = new AbortController().signal;
          await Promise.all(
            delays.map((d) =>
              l.run(async () => {
                active += 1;
                peak = Math.max(peak, active);
                await new Promise((r) => setTimeout(r, d));
                active -= 1;
                return { value: undefined, ok: true };
              }, signal),
            ),
          );
          return peak <= max && l.peakActive <= max;
        },
      ),
      { numRuns: 30 },
    );
  });

  it('holds every request back while a Retry-After pause lasts, and aborts waiting callers', async () => {
    const l = new MailboxLimiter({ maxConcurrent: 1, messagesPerMinute: 60, now: Date.now });
    l.pause(300);
    const started = Date.now();
    await l.run(async () => ({ value: undefined, ok: true }), new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const ac = new AbortController();
    await l.messageTurn(ac.signal);
    const waiting = l.messageTurn(ac.signal); // the next slot is ~1 s away
    ac.abort();
    await expect(waiting).rejects.toThrow();
  });

  it('after a Retry-After lets one request go, then widens by one per success back to the limit', async () => {
    const l = new MailboxLimiter({ maxConcurrent: 4, messagesPerMinute: 60_000, now: Date.now });
    const signal = new AbortController().signal;
    l.pause(20);
    // Barriers: each started request waits until the test lets it finish.
    const gates: (() => void)[] = [];
    const starts: number[] = [];
    const runs = Array.from({ length: 8 }, () =>
      l.run(async () => {
        starts.push(l.inFlight);
        await new Promise<void>((r) => gates.push(r));
        return { value: undefined, ok: true };
      }, signal),
    );
    const settle = () => new Promise((r) => setTimeout(r, 30));
    await settle();
    expect(l.inFlight).toBe(1); // the pause is over: one request, not four
    gates.shift()?.();
    await settle();
    expect(l.inFlight).toBe(2); // one success: window 2
    gates.shift()?.();
    gates.shift()?.();
    await settle();
    expect(l.inFlight).toBe(4); // two more: window 4, the limit
    while (gates.length > 0) {
      gates.shift()?.();
      await settle();
    }
    await Promise.all(runs);
    expect(Math.max(...starts)).toBeLessThanOrEqual(4);
    expect(l.allowed).toBe(4);
  });

  it('an aborted request keeps its slot until its hold settles (its connection has closed)', async () => {
    const l = new MailboxLimiter({ maxConcurrent: 1, messagesPerMinute: 60_000, now: Date.now });
    const signal = new AbortController().signal;
    let closeConnection: () => void = () => {};
    const closed = new Promise<void>((r) => {
      closeConnection = r;
    });
    await expect(
      l.run(async (hold) => {
        hold(closed);
        throw new Error('timed out');
      }, signal),
    ).rejects.toThrow('timed out');
    let second = false;
    const next = l.run(async () => {
      second = true;
      return { value: undefined, ok: true };
    }, signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false);
    expect(l.inFlight).toBe(1);
    closeConnection();
    await next;
    expect(second).toBe(true);
  });
});
