import { Readable } from 'node:stream';
import { text as streamText } from 'node:stream/consumers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ContentNormalizer,
  type ContentOptions,
  ContentTransform,
  rewriteAddress,
} from '../../../appliance/src/receiver/content.ts';

function opts(patch: Partial<ContentOptions> = {}): ContentOptions {
  return {
    bareLineEndings: 'normalize',
    maxHeaderSize: 1 << 20,
    maxLineLength: 1 << 20,
    addMissingHeaders: false,
    defaultFrom: 'dev@contoso.com',
    messageId: '<id-1@relay.test>',
    date: 'Sun, 22 Nov 2026 00:00:00 +0000',
    ...patch,
  };
}

/** Runs input through a normaliser in the given chunk sizes; returns output text and the normaliser. */
function run(input: string, patch: Partial<ContentOptions> = {}, cuts: number[] = []) {
  const n = new ContentNormalizer(opts(patch));
  const buf = Buffer.from(input, 'latin1');
  const out: Buffer[] = [];
  let pos = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= pos || c >= buf.length) continue;
    out.push(...n.push(buf.subarray(pos, c)));
    pos = c;
  }
  out.push(...n.push(buf.subarray(pos)));
  out.push(...n.end());
  return { text: Buffer.concat(out).toString('latin1'), n };
}

const hasBare = (s: string) => /\r(?!\n)|(?<!\r)\n/.test(s);
const lineChars = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', '.', ':', ' ', '\t', 'X', '-', '\0', '\xff') },
  { weight: 1, arbitrary: fc.constantFrom('\r', '\n', '\r\n', '\r\n', '\r\n\r\n') },
);
const messageArb = fc.array(lineChars, { maxLength: 300 }).map((a) => a.join(''));
const cutsArb = fc.array(fc.nat(300), { maxLength: 8 });

describe('content normaliser: line endings (property-based)', () => {
  it('leaves no bare CR or bare LF, whatever the input and chunking', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, (msg, cuts) => {
        const { text } = run(msg, {}, cuts);
        expect(hasBare(text)).toBe(false);
        expect(text.endsWith('\r\n')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('is independent of how DATA is chunked', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, (msg, cuts) => {
        expect(run(msg, {}, cuts).text).toBe(run(msg).text);
      }),
      { numRuns: 1000 },
    );
  });

  it('only changes line breaks: the bytes between them are kept in order', () => {
    fc.assert(
      fc.property(messageArb, (msg) => {
        const strip = (s: string) => s.replace(/[\r\n]/g, '');
        expect(strip(run(msg).text)).toBe(strip(msg));
      }),
      { numRuns: 1000 },
    );
  });

  it('is idempotent and leaves clean CRLF messages byte-identical', () => {
    fc.assert(
      fc.property(messageArb, (msg) => {
        const once = run(msg).text;
        expect(run(once).text).toBe(once);
      }),
      { numRuns: 1000 },
    );
    const clean = 'From: a@b.test\r\nSubject: x\r\n\r\nbody\r\n.. dot-stuffed stays\r\n';
    expect(run(clean).text).toBe(clean);
  });

  it('in reject mode flags exactly the messages with a bare CR or LF (the caller discards the message)', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, (msg, cuts) => {
        const { n } = run(msg, { bareLineEndings: 'reject' }, cuts);
        expect(n.violation !== undefined).toBe(hasBare(msg));
        if (n.violation) {
          expect(n.violation.code).toBe('RELAY_CONTENT_REJECTED');
          expect(n.violation.responseCode).toBe(550);
          expect(n.violation.message).toMatch(/^5\.5\.2 /);
          // Once violated, further input produces no output.
          expect(n.push(Buffer.from('more\r\n'))).toEqual([]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('turns every smuggling terminator into a visible CRLF line, never a second message boundary in the body', () => {
    for (const t of ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r', '\r\n.\r', '\r.\r\n', '\n.\r', '\r.\n']) {
      const msg = `Subject: s\r\n\r\nhello${t}MAIL FROM:<spoof@bank.test>\r\nRCPT TO:<v@local.test>\r\nDATA\r\nsmuggled\r\n`;
      const { text, n } = run(msg);
      expect(hasBare(text)).toBe(false);
      expect(n.bareLineEndings).toBeGreaterThan(0);
      // The dot line is now an ordinary CRLF line that any dot-stuffing SMTP client will escape.
      expect(text).toContain('\r\n.\r\nMAIL FROM:<spoof@bank.test>\r\n');
    }
  });
});

describe('content normaliser: limits', () => {
  it('refuses a header block over maxHeaderSize with 552 5.3.4 and keeps the body limit separate', () => {
    const big = `Subject: ${'x'.repeat(500)}\r\n`.repeat(10);
    const { n } = run(`${big}\r\nbody\r\n`, { maxHeaderSize: 4096 });
    expect(n.violation?.code).toBe('RELAY_HEADER_TOO_LARGE');
    expect(n.violation?.responseCode).toBe(552);
    const ok = run(`Subject: s\r\n\r\n${'y'.repeat(900)}\r\n`.repeat(1), { maxHeaderSize: 4096 });
    expect(ok.n.violation).toBeUndefined();
  });

  it('refuses a line over maxLineLength with 550 5.6.0, in headers and body, across chunks', () => {
    const long = 'z'.repeat(2000);
    for (const msg of [`Subject: ${long}\r\n\r\nb\r\n`, `Subject: s\r\n\r\n${long}\r\n`]) {
      const { n } = run(msg, { maxLineLength: 998 }, [100, 700, 1500]);
      expect(n.violation?.code).toBe('RELAY_LINE_TOO_LONG');
      expect(n.violation?.message).toMatch(/^5\.6\.0 /);
    }
    expect(
      run(`Subject: s\r\n\r\n${'z'.repeat(998)}\r\n`, { maxLineLength: 998 }).n.violation,
    ).toBeUndefined();
  });

  it('flags a too-long line exactly when one exists, whatever the chunking (property)', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, fc.integer({ min: 1, max: 40 }), (msg, cuts, limit) => {
        const longest = Math.max(0, ...msg.split(/\r\n|\r|\n/).map((l) => l.length));
        const { n } = run(msg, { maxLineLength: limit }, cuts);
        expect(n.violation?.code === 'RELAY_LINE_TOO_LONG').toBe(longest > limit);
      }),
      { numRuns: 3000 },
    );
  });

  it('holds back no more than a partial line: a 20 MB body passes through chunk by chunk', () => {
    const n = new ContentNormalizer(opts());
    let out = 0;
    let mostHeld = 0;
    for (const b of n.push(Buffer.from('Subject: big\r\n\r\n'))) out += b.length;
    const chunk = Buffer.from(`${'a'.repeat(78)}\r\n`.repeat(800));
    // Cut off mid-line so every push leaves a partial line behind.
    const halves = [chunk.subarray(0, 1000), chunk.subarray(1000)];
    for (let i = 0; i < 20 * 1024 * 1024; i += chunk.length) {
      for (const half of halves) {
        for (const b of n.push(half)) out += b.length;
        mostHeld = Math.max(mostHeld, n.bytesIn - out);
      }
    }
    for (const b of n.end()) out += b.length;
    expect(out).toBe(n.bytesIn);
    // Whatever is not yet passed on is at most the current line (80 bytes with CRLF): memory does not
    // grow with the message. (Memory figures themselves belong to `npm run bench`.)
    expect(mostHeld).toBeLessThanOrEqual(80);
  });
});

describe('content normaliser: missing headers and sender rewrite', () => {
  const add = { addMissingHeaders: true };

  it('adds From, Date and Message-ID when missing, as an MTA does, and nothing when present', () => {
    const { text, n } = run('Subject: scan\r\n\r\nbody\r\n', add);
    expect(text).toBe(
      'Subject: scan\r\nFrom: <dev@contoso.com>\r\nDate: Sun, 22 Nov 2026 00:00:00 +0000\r\nMessage-ID: <id-1@relay.test>\r\n\r\nbody\r\n',
    );
    expect(n.changes).toEqual(['From added', 'Date added', 'Message-ID added']);
    expect(n.messageIdHeader).toBe('<id-1@relay.test>');
    const full = 'from: a@b.test\r\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <x@y>\r\n\r\nb\r\n';
    expect(run(full, add).text).toBe(full);
  });

  it('handles a message with no empty line or no headers at all', () => {
    expect(run('just a body line\r\nmore\r\n', add).text).toBe(
      'From: <dev@contoso.com>\r\nDate: Sun, 22 Nov 2026 00:00:00 +0000\r\nMessage-ID: <id-1@relay.test>\r\n\r\njust a body line\r\nmore\r\n',
    );
    expect(run('Subject: only headers', {}).text).toBe('Subject: only headers\r\n\r\n');
    expect(run('', {}).text).toBe('\r\n');
  });

  it('rewrites the From address keeping the display name exactly as written', () => {
    const cases: [string, string][] = [
      ['"Scanner, 3rd floor" <scanner@local>', '"Scanner, 3rd floor" <scanner@contoso.com>'],
      ['=?utf-8?q?J=C3=BCrgen_Scan?= <scanner@local>', '=?utf-8?q?J=C3=BCrgen_Scan?= <scanner@contoso.com>'],
      ['Scanner <scanner@local> (MFP)', 'Scanner <scanner@contoso.com>'],
      ['scanner@local', '<scanner@contoso.com>'],
      ['scanner@local (Scan Station)', 'Scan Station <scanner@contoso.com>'],
      ['scanner@local (Scan, Station)', '"Scan, Station" <scanner@contoso.com>'],
      ['<scanner@local>', '<scanner@contoso.com>'],
      ['A <a@local>, B <b@local>', 'A <scanner@contoso.com>'],
    ];
    for (const [from, want] of cases) expect(rewriteAddress(` ${from}`, 'scanner@contoso.com')).toBe(want);
    const { text } = run('From: "Scan\r\n Station" <scanner@local>\r\nSubject: s\r\n\r\nb\r\n', {
      rewriteFrom: 'scanner@contoso.com',
    });
    expect(text).toBe('From: "Scan Station" <scanner@contoso.com>\r\nSubject: s\r\n\r\nb\r\n');
  });

  it('rewrites only header fields, never a From: line in the body', () => {
    const { text } = run('From: <a@local>\r\n\r\nFrom: <a@local>\r\n', { rewriteFrom: 'x@contoso.com' });
    expect(text).toBe('From: <x@contoso.com>\r\n\r\nFrom: <a@local>\r\n');
  });

  it('works as a streaming Transform', async () => {
    const t = new ContentTransform(opts());
    const out = await streamText(
      Readable.from([Buffer.from('Subject: a\n\nline\r'), Buffer.from('\nend\n')]).pipe(t),
    );
    expect(out).toBe('Subject: a\r\n\r\nline\r\nend\r\n');
  });
});
