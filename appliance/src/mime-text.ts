// Shared leaf: RFC 2047 encoded-words and quoted-printable (RFC 2045 §6.7), decoded by libmime and
// libqp — the libraries mailparser and mailsplit already use — so routing rules, Graph message
// shaping and ACS conversion read the same text. No relaykit imports.
import iconv from 'iconv-lite';
import libmime from 'libmime';
import libqp from 'libqp';

const ENCODED_WORD = /=\?([^?\s]+)\?[BbQq]\?[^?\s]*\?=/g;

/** libmime.normalizeCharset exists at run time (libmime 5.4) but not in @types/libmime 5.3. */
const normalizeCharset = (
  libmime as unknown as { normalizeCharset(cs: string): string }
).normalizeCharset.bind(libmime);

function knownCharset(charset: string): boolean {
  // RFC 2231 lets a charset carry a language ("utf-8*de").
  const name = normalizeCharset(charset.split('*')[0] ?? '');
  return (
    /^(us-)?ascii$|^utf-8$|^7bit$/i.test(name) ||
    /^jis|^iso-?2022-?jp|^eucjp/i.test(name) ||
    iconv.encodingExists(name)
  );
}

/**
 * Decodes RFC 2047 encoded-words ("=?UTF-8?B?...?="), joining adjacent ones (§6.2). A word in a
 * charset nobody knows stays as written: libmime would read it as UTF-8 and lose its bytes. Values
 * without "=?" come back unchanged.
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let from = 0;
  for (const m of value.matchAll(ENCODED_WORD)) {
    if (knownCharset(m[1] as string)) continue;
    out += libmime.decodeWords(value.slice(from, m.index)) + m[0];
    from = m.index + m[0].length;
  }
  return out + libmime.decodeWords(value.slice(from));
}

/** Quoted-printable text to bytes: soft line breaks removed, =XX decoded, trailing blanks dropped. */
export function decodeQuotedPrintable(text: Buffer): Buffer {
  return libqp.decode(text.toString('latin1'));
}

/** A line longer than this (RFC 2045 allows 76) is decoded in pieces instead of waited for. */
const LONG_QP_LINE = 64 * 1024;

/**
 * Where a streamed quoted-printable body may be cut so both pieces decode as the whole would: after
 * the last hard line break. Not after a soft one ("=" ending the line, trailing blanks aside): the
 * decoder joins the lines around it, so a stray "=" or "=X" before it and the hex digits after it
 * form one escape ("==\r\naa" decodes to 0xAA whole, "=" + "aa" in pieces). Returns 0 to wait.
 */
export function quotedPrintableCut(buf: Buffer): number {
  for (let nl = buf.lastIndexOf(0x0a); nl >= 0; nl = nl > 0 ? buf.lastIndexOf(0x0a, nl - 1) : -1) {
    let end = nl;
    while (end > 0 && (buf[end - 1] === 0x0d || buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
    if (buf[end - 1] !== 0x3d) return nl + 1;
  }
  if (buf.length < LONG_QP_LINE) return 0;
  // An over-long line: cut before a possibly incomplete "=X" and before trailing blanks.
  let cut = buf.length;
  const eq = buf.lastIndexOf(0x3d);
  if (eq >= buf.length - 2) cut = eq;
  while (cut > 0 && (buf[cut - 1] === 0x20 || buf[cut - 1] === 0x09)) cut--;
  return cut;
}
