// The one RFC 2047 / quoted-printable implementation (libmime, libqp) and the cut that lets a
// streamed body be decoded chunk by chunk.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEncodedWords,
  decodeQuotedPrintable,
  quotedPrintableCut,
} from '../../appliance/src/mime-text.ts';

describe('decodeEncodedWords', () => {
  it.each([
    // RFC 2047 §8 examples
    ['=?ISO-8859-1?Q?Andr=E9?= Pirard', 'André Pirard'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['=?windows-1252?Q?Gr=FC=DFe?=', 'Grüße'],
    ['=?x-no-such-charset?B?YWJj?= and =?utf-8?Q?K=C3=B6ln?=', '=?x-no-such-charset?B?YWJj?= and Köln'],
  ])('%s → %s', (raw, decoded) => {
    expect(decodeEncodedWords(raw)).toBe(decoded);
  });
});

describe('quoted-printable', () => {
  it('decodes =XX, drops soft line breaks and trailing blanks (RFC 2045 §6.7)', () => {
    expect(decodeQuotedPrintable(Buffer.from('caf=C3=A9 =\r\nau lait  \r\nx')).toString()).toBe(
      'café au lait\r\nx',
    );
  });

  it('decoding in pieces cut by quotedPrintableCut equals decoding the whole', () => {
    const qpChar = fc.constantFrom('a', ' ', '\t', '=', '=3D', '=C3=A9', '=\r\n', '\r\n', '\n', 'Z');
    fc.assert(
      fc.property(
        fc.array(qpChar, { maxLength: 80 }),
        fc.array(fc.nat(40), { maxLength: 6 }),
        (parts, sizes) => {
          const all = Buffer.from(parts.join(''), 'latin1');
          const out: Buffer[] = [];
          let rest = Buffer.alloc(0);
          let at = 0;
          for (const n of [...sizes, all.length]) {
            const chunk = all.subarray(at, Math.min(all.length, at + n));
            at += chunk.length;
            const buf = Buffer.concat([rest, chunk]);
            const cut = quotedPrintableCut(buf);
            out.push(decodeQuotedPrintable(buf.subarray(0, cut)));
            rest = buf.subarray(cut);
          }
          out.push(decodeQuotedPrintable(rest));
          expect(Buffer.concat(out).equals(decodeQuotedPrintable(all))).toBe(true);
        },
      ),
      // A stray "=" before a soft line break joins with the next line's hex digits (found by this
      // property once at random): kept as a fixed case so it runs every time.
      { examples: [[['=', '=\r\n', 'a', 'a'], []]] },
    );
  });
});
