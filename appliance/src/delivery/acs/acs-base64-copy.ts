// ACS attachments copied as base64 straight from the spool file instead of decoded and encoded again.
// Parsing: mailsplit's Splitter walks the spooled message once; each base64 part that mailparser will
// call an attachment reaches mailparser with its body replaced by a short marker, while this pass
// records where that body lies in the file, checks its alphabet, counts its letters and hashes its
// raw bytes. Writing the request: the letters are read again from that range, line breaks and the
// source's padding dropped, canonical padding added, and the count and hash compared with the scan's
// — a range that does not match fails the request rather than send a corrupt attachment. No
// attachment is ever decoded or held whole. Reads the spool file only.
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Joiner, Splitter } from '@zone-eu/mailsplit';
import type { Attachment, ParsedMail } from 'mailparser';
import { RelayError } from '../../errors.ts';
import type { MessageSource } from '../../spool/record.ts';
import type { SplitChunk, SplitNode } from '../mime-split.ts';
import { openMessage } from '../transport.ts';

/** One attachment's base64 as it lies in the spool file. */
export interface SpooledBase64 {
  readonly source: MessageSource;
  /** Byte range of the part's body within the message (end exclusive). */
  readonly start: number;
  readonly end: number;
  /** Base64 letters in the range (no line breaks, no padding). */
  readonly letters: number;
  /** SHA-256 of the range's raw bytes as the scan read them. */
  readonly rawHash: string;
}

/** An attachment's content as the template holds it: decoded bytes, or base64 left in the spool. */
export type AttachmentContent = Buffer | SpooledBase64;

/** Length of the canonical (padded, unbroken) base64 text. */
export function spooledBase64Length(p: SpooledBase64): number {
  return 4 * Math.ceil(p.letters / 4);
}

const INVALID = 0;
const LETTER = 1;
const PAD = 2;
const SKIP = 3;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Byte → class; and byte → 6-bit value for the letters. */
const CLASS = new Uint8Array(256);
const VALUE = new Uint8Array(256);
for (let i = 0; i < ALPHABET.length; i++) {
  CLASS[ALPHABET.charCodeAt(i)] = LETTER;
  VALUE[ALPHABET.charCodeAt(i)] = i;
}
CLASS[61] = PAD; // '='
// Line breaks, and the blanks some encoders leave at line ends (RFC 2045 6.8 decoders ignore them).
for (const c of [9, 10, 13, 32]) CLASS[c] = SKIP;

function describeByte(c: number): string {
  return c >= 33 && c <= 126 ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** Checks a base64 body chunk by chunk: alphabet, padding only at the end, a whole last quantum. */
class Base64Check {
  letters = 0;
  private pads = 0;
  private at = 0;
  problem: string | undefined;

  push(chunk: Buffer): void {
    if (this.problem === undefined) this.problem = this.scan(chunk);
    this.at += chunk.length;
  }

  end(): void {
    if (this.problem === undefined && this.letters % 4 === 1)
      this.problem = `it ends in a single letter (${this.letters} letters: truncated)`;
  }

  private scan(chunk: Buffer): string | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      const k = CLASS[c];
      if (k === LETTER) {
        if (this.pads > 0) return `a letter after '=' padding at byte ${this.at + i}`;
        this.letters++;
      } else if (k === PAD) {
        if (++this.pads > 2) return `more than two '=' at byte ${this.at + i}`;
      } else if (k === INVALID) {
        return `${describeByte(c)} at byte ${this.at + i} is not base64`;
      }
    }
    return undefined;
  }
}

/** mailparser's body types (mail-parser.js textTypes): such a part is text unless not inline. */
const TEXT_TYPES = new Set(['text/plain', 'text/html', 'message/delivery-status']);

/** Whether mailparser will make this part an attachment (mail-parser.js createNode), base64 only. */
function copiedAsBase64(node: SplitNode): boolean {
  if (node.multipart || (node.encoding || '').toLowerCase() !== 'base64') return false;
  // Inside an embedded message mailparser shapes parts its own way: those are decoded as before.
  for (let p = node.parentNode; p; p = p.parentNode)
    if ((p.contentType || '').startsWith('message/')) return false;
  const type = node.contentType || (node.root ? 'text/plain' : '');
  if (type.startsWith('message/') && !TEXT_TYPES.has(type)) return false;
  const d = node.disposition || '';
  const disposition =
    d === '' ? (TEXT_TYPES.has(type) ? 'inline' : 'attachment') : d === 'inline' ? 'inline' : 'attachment';
  return !TEXT_TYPES.has(type) || disposition !== 'inline';
}

interface Pending {
  readonly node: SplitNode;
  readonly marker: string;
  readonly start: number;
  end: number;
  readonly check: Base64Check;
  readonly hash: ReturnType<typeof createHash>;
}

/**
 * Splitter objects in, the same objects out, except that the body of each copied part becomes one
 * marker line. Counts the bytes of every object so the parts' ranges are file offsets.
 */
class MarkCopiedParts extends Transform {
  offset = 0;
  readonly parts: Pending[] = [];
  private current: Pending | undefined;
  private readonly nonce = randomBytes(12).toString('hex');

  constructor() {
    super({ objectMode: true });
  }

  override _transform(obj: SplitChunk | Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (Buffer.isBuffer(obj)) {
      this.closePart();
      this.offset += obj.length;
    } else if (obj.type === 'node') {
      this.closePart();
      this.offset += obj.getHeaders().length;
    } else if (
      obj.type === 'body' &&
      obj.node !== undefined &&
      obj.value !== undefined &&
      copiedAsBase64(obj.node)
    ) {
      const value = obj.value;
      let p = this.current;
      if (p?.node !== obj.node) {
        this.closePart();
        const marker = `\u0000relaykit-spooled-base64:${this.nonce}:${this.parts.length}\u0000`;
        p = {
          node: obj.node,
          marker,
          start: this.offset,
          end: this.offset,
          check: new Base64Check(),
          hash: createHash('sha256'),
        };
        this.current = p;
        this.parts.push(p);
        this.push({
          type: 'body',
          node: obj.node,
          value: Buffer.from(Buffer.from(marker, 'latin1').toString('base64'), 'latin1'),
        });
      }
      p.check.push(value);
      p.hash.update(value);
      this.offset += value.length;
      p.end = this.offset;
      done();
      return;
    } else {
      this.closePart();
      this.offset += obj.value?.length ?? 0;
    }
    this.push(obj);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.closePart();
    done();
  }

  private closePart(): void {
    this.current?.check.end();
    this.current = undefined;
  }
}

export interface SpooledParse {
  readonly mail: ParsedMail;
  /** The attachments whose base64 stays in the spool file. */
  readonly spooled: ReadonlyMap<Attachment, SpooledBase64>;
}

/**
 * Parses the spooled message with `parse` (mailparser's simpleParser with the transport's options),
 * base64 attachments left in the file. Falls back to a plain parse when the pass cannot vouch for
 * its ranges (the split did not account for every byte, or a marker did not come back as exactly
 * one attachment). A copied attachment that is not valid base64 is refused (RELAY_ACS_MIME_INVALID).
 */
export async function parseSpooled(
  source: MessageSource,
  parse: (input: Readable) => Promise<ParsedMail>,
): Promise<SpooledParse> {
  const mark = new MarkCopiedParts();
  const joined = new Joiner() as unknown as Transform;
  const split = pipeline(openMessage(source), new Splitter(), mark, joined);
  let mail: ParsedMail;
  try {
    [, mail] = await Promise.all([split, parse(joined)]);
  } catch (err) {
    joined.destroy();
    await split.catch(() => undefined);
    throw err;
  }
  if (mark.parts.length === 0) return { mail, spooled: new Map() };
  const byMarker = new Map(mark.parts.map((p) => [p.marker, p]));
  const spooled = new Map<Attachment, SpooledBase64>();
  for (const a of mail.attachments) {
    const p = a.content.length < 80 ? byMarker.get(a.content.toString('latin1')) : undefined;
    if (p === undefined) continue;
    byMarker.delete(p.marker);
    if (p.check.problem !== undefined) {
      throw new RelayError(
        'RELAY_ACS_MIME_INVALID',
        `attachment ${mail.attachments.indexOf(a) + 1} (${a.filename ?? a.contentType}) is not valid base64 in the message: ${p.check.problem}; not sent rather than sent corrupt`,
      );
    }
    spooled.set(a, {
      source,
      start: p.start,
      end: p.end,
      letters: p.check.letters,
      rawHash: p.hash.digest('base64'),
    });
  }
  if (byMarker.size > 0 || mark.offset !== source.length) {
    return { mail: await parse(openMessage(source)), spooled: new Map() };
  }
  return { mail, spooled };
}

/** Bytes read from the spool file at a time. */
const READ = 48 * 1024;

/**
 * The canonical base64 text of a spooled attachment, in pieces of whole 4-letter groups as the file
 * is read: line breaks and padding dropped, the last group's unused bits cleared and padded. Throws
 * if the range no longer holds what the scan saw. With `scratch` every piece is written into that
 * one buffer (valid only until the next piece: for a reader that consumes each piece at once, such
 * as the hash pass), so the pass leaves no garbage behind; without it each piece is a new buffer.
 */
export async function* readSpooledBase64(p: SpooledBase64, scratch?: Buffer): AsyncGenerator<Buffer> {
  if (scratch !== undefined && scratch.length < READ + 3)
    throw new Error('readSpooledBase64: scratch too small');
  const hash = createHash('sha256');
  const raw = Buffer.allocUnsafe(READ);
  const carry = Buffer.alloc(3);
  let carried = 0;
  let letters = 0;
  const file = await open(p.source.path, 'r');
  try {
    const end = p.source.offset + p.end;
    for (let pos = p.source.offset + p.start; pos < end; ) {
      const { bytesRead } = await file.read(raw, 0, Math.min(READ, end - pos), pos);
      if (bytesRead === 0) throw changed(p, 'fewer bytes');
      pos += bytesRead;
      hash.update(raw.subarray(0, bytesRead));
      const out = scratch ?? Buffer.allocUnsafe(carried + bytesRead);
      let n = carry.copy(out, 0, 0, carried);
      for (let i = 0; i < bytesRead; i++) {
        const c = raw[i] as number;
        const k = CLASS[c];
        if (k === LETTER) out[n++] = c;
        else if (k === INVALID) throw changed(p, 'a byte that is not base64');
      }
      letters += n - carried;
      const whole = n - (n % 4);
      carried = out.copy(carry, 0, whole, n);
      if (whole > 0) yield out.subarray(0, whole);
    }
  } finally {
    await file.close();
  }
  if (letters !== p.letters || hash.digest('base64') !== p.rawHash) throw changed(p, 'other bytes');
  if (carried === 0) return;
  // RFC 4648 §3.5: the bits past the last whole byte are zero in canonical text.
  const tail = Buffer.from('====', 'latin1');
  carry.copy(tail, 0, 0, carried);
  const last = carried - 1;
  const keep = carried === 2 ? 0x30 : 0x3c;
  tail[last] = ALPHABET.charCodeAt((VALUE[carry[last] as number] as number) & keep);
  yield tail;
}

function changed(p: SpooledBase64, what: string): Error {
  return new RelayError(
    'RELAY_ACS_MIME_INVALID',
    `the spooled message changed under the ACS request: bytes ${p.start}–${p.end} now hold ${what}`,
  );
}
