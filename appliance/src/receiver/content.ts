// Content hygiene of the receiving room, applied to DATA as it streams into the spool: line endings
// (bare CR / bare LF normalised to CRLF, or rejected), header block and line length limits, the
// missing From:/Date:/Message-ID: an MTA adds, and the From: rewrite of an identity's sender policy.
// Memory-flat: only the header block (bounded by maxHeaderSize) and the current line's length are
// kept; the body passes through as slices of the input. A violation never throws mid-stream: the
// normaliser keeps swallowing input (smtp-server must read up to the final dot) and the caller reads
// `violation` at the end.
import { Transform, type TransformCallback } from 'node:stream';
import addressparser from 'nodemailer/lib/addressparser';
import { RelayError } from '../errors.ts';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
/** A CR not followed by LF, or an LF not preceded by CR (within one chunk; chunk edges are handled apart). */
const BARE = /\r(?!\n)|(?<!\r)\n/g;
/** Every line ending, canonical or not. */
const LINE_ENDS = /\r\n?|\n/g;

function lineTooLong(max: number): RelayError {
  return new RelayError('RELAY_LINE_TOO_LONG', `Message line longer than ${max} bytes`);
}

export interface ContentOptions {
  readonly bareLineEndings: 'normalize' | 'reject';
  readonly maxHeaderSize: number;
  readonly maxLineLength: number;
  readonly addMissingHeaders: boolean;
  /** Replace the From: address with this one, keeping the display name. */
  readonly rewriteFrom?: string;
  /** From: to add when missing (the envelope sender, or MAILER-DAEMON@host for the null sender). */
  readonly defaultFrom: string;
  /** Message-ID: value to add when missing, with angle brackets. */
  readonly messageId: string;
  /** Date: value to add when missing (RFC 5322 date-time). */
  readonly date: string;
}

export class ContentNormalizer {
  private readonly opts: ContentOptions;
  /** The error that ends this message, once one is found; output stops from then on. */
  violation: RelayError | undefined;
  /** Bare CR and bare LF seen (normalised or not). */
  bareLineEndings = 0;
  /** Headers this pass added or rewrote, for logs and tests. */
  readonly changes: string[] = [];
  bytesIn = 0;
  bytesOut = 0;
  private pendingCr = false;
  private inHeader = true;
  private lineLength = 0;
  private headerBytes = 0;
  private headerLines: string[] = [];
  private current: Buffer[] = [];
  private out: Buffer[] = [];
  /** Message-ID as it ends up in the message (found or added). */
  messageIdHeader: string | undefined;

  constructor(opts: ContentOptions) {
    this.opts = opts;
  }

  /** Feeds the next DATA chunk; returns the normalised bytes to spool (possibly none). */
  push(chunk: Buffer): Buffer[] {
    this.bytesIn += chunk.length;
    if (this.violation) return [];
    const n = chunk.length;
    let i = 0;
    this.nextCr = -2;
    this.nextLf = -2;
    this.nextBare = -2;
    this.text_ = undefined;
    while (i < n && !this.violation) {
      if (this.pendingCr) {
        this.pendingCr = false;
        if (chunk[i] === LF) {
          this.lineEnd();
          i++;
          continue;
        }
        this.bare();
        if (this.violation) break;
        this.lineEnd();
        continue;
      }
      if (!this.inHeader) {
        // Fast path: clean CRLF body lines within the limit pass through as one slice.
        const end = this.cleanBodyUntil(chunk, i);
        if (end > i) {
          this.out.push(chunk.subarray(i, end));
          i = end;
          if (i >= n) break;
        }
        // Repair path in bulk: rewrite every line ending of the rest of the chunk at once (a CR at
        // the very end is left to the careful path, as it may pair with the next chunk's LF).
        const segEnd = chunk[n - 1] === CR ? n - 1 : n;
        if (this.opts.bareLineEndings === 'normalize' && segEnd > i) {
          this.text_ ??= chunk.toString('latin1');
          const raw = this.text_.slice(i, segEnd);
          const fixed = raw.replace(LINE_ENDS, '\r\n');
          const buf = Buffer.from(fixed, 'latin1');
          if (!this.linesWithinLimit(buf)) {
            this.violation = lineTooLong(this.opts.maxLineLength);
            break;
          }
          this.bareLineEndings += fixed.length - raw.length;
          this.out.push(buf);
          i = segEnd;
          if (i >= n) break;
          continue;
        }
      }
      const nextCr = this.crFrom(chunk, i);
      const nextLf = this.lfFrom(chunk, i);
      const cr = nextCr === -1 ? n : nextCr;
      const lf = nextLf === -1 ? n : nextLf;
      const j = Math.min(cr, lf);
      if (j > i) this.text(chunk.subarray(i, j));
      if (j >= n || this.violation) break;
      if (j === cr) {
        this.pendingCr = true;
      } else {
        this.bare();
        if (this.violation) break;
        this.lineEnd();
      }
      i = j + 1;
    }
    return this.drain();
  }

  /**
   * Finds how far body bytes from `start` are clean: no bare CR/LF (one regex scan per chunk) and no
   * line over the limit (lastIndexOf jumps of maxLineLength). Returns the first position that needs
   * the careful path, or the chunk length, and updates the running line length for what it consumed.
   * A handful of native calls per chunk instead of work per line keeps this near memcpy speed.
   */
  private cleanBodyUntil(chunk: Buffer, start: number): number {
    const max = this.opts.maxLineLength;
    const bare = this.bareFrom(chunk, start);
    const end = bare === -1 ? chunk.length : bare;
    let p = start;
    let carry = this.lineLength;
    while (p < end) {
      if (carry + (end - p) <= max) {
        const lastLf = chunk.lastIndexOf(LF, end - 1);
        this.lineLength = lastLf >= p ? end - lastLf - 1 : carry + (end - p);
        return end;
      }
      // The last LF that still ends the line starting at p within the limit (content + CR + LF).
      const lf = chunk.lastIndexOf(LF, Math.min(p + max - carry + 1, end - 1));
      if (lf < p) break;
      p = lf + 1;
      carry = 0;
    }
    this.lineLength = carry;
    return p;
  }

  /** Checks CRLF-only bytes against the line limit (jumps of maxLineLength) and carries the tail. */
  private linesWithinLimit(buf: Buffer): boolean {
    const max = this.opts.maxLineLength;
    const end = buf.length;
    let p = 0;
    let carry = this.lineLength;
    for (;;) {
      if (carry + (end - p) <= max) {
        const lastLf = buf.lastIndexOf(LF, end - 1);
        this.lineLength = lastLf >= p ? end - lastLf - 1 : carry + (end - p);
        return true;
      }
      const lf = buf.lastIndexOf(LF, p + max - carry + 1);
      if (lf < p) return false;
      p = lf + 1;
      carry = 0;
    }
  }

  private text_: string | undefined;
  private nextBare = -2;

  private bareFrom(chunk: Buffer, i: number): number {
    if (this.nextBare !== -1 && this.nextBare < i) {
      this.text_ ??= chunk.toString('latin1');
      BARE.lastIndex = i;
      const m = BARE.exec(this.text_);
      this.nextBare = m ? m.index : -1;
    }
    return this.nextBare;
  }

  // Next CR / LF at or after a position in the current chunk, cached so that a chunk with many of
  // one and none of the other stays linear (-1: none left, -2: not searched yet).
  private nextCr = -2;
  private nextLf = -2;

  private crFrom(chunk: Buffer, i: number): number {
    if (this.nextCr !== -1 && this.nextCr < i) this.nextCr = chunk.indexOf(CR, i);
    return this.nextCr;
  }

  private lfFrom(chunk: Buffer, i: number): number {
    if (this.nextLf !== -1 && this.nextLf < i) this.nextLf = chunk.indexOf(LF, i);
    return this.nextLf;
  }

  /** Ends the message: settles a trailing CR and an unfinished line or header block. */
  end(): Buffer[] {
    if (this.violation) return [];
    if (this.pendingCr) {
      this.pendingCr = false;
      this.bare();
      if (!this.violation) this.lineEnd();
    }
    if (!this.violation && (this.lineLength > 0 || this.current.length > 0)) this.lineEnd();
    if (!this.violation && this.inHeader) this.finishHeader();
    return this.drain();
  }

  private drain(): Buffer[] {
    if (this.violation) {
      this.out = [];
      return [];
    }
    const out = this.out;
    this.out = [];
    for (const b of out) this.bytesOut += b.length;
    return out;
  }

  private bare(): void {
    this.bareLineEndings++;
    if (this.opts.bareLineEndings === 'reject') {
      this.violation = new RelayError(
        'RELAY_CONTENT_REJECTED',
        'Bare CR or LF in message content is not allowed; lines must end with CRLF',
      );
    }
  }

  private text(buf: Buffer): void {
    this.lineLength += buf.length;
    if (this.lineLength > this.opts.maxLineLength) {
      this.violation = lineTooLong(this.opts.maxLineLength);
      return;
    }
    if (this.inHeader) {
      this.headerBytes += buf.length;
      if (this.headerBytes > this.opts.maxHeaderSize) {
        this.violation = new RelayError(
          'RELAY_HEADER_TOO_LARGE',
          `Message header block larger than ${this.opts.maxHeaderSize} bytes`,
        );
        return;
      }
      this.current.push(buf);
    } else {
      this.out.push(buf);
    }
  }

  private lineEnd(): void {
    this.lineLength = 0;
    if (!this.inHeader) {
      this.out.push(CRLF);
      return;
    }
    const line = Buffer.concat(this.current).toString('latin1');
    this.current = [];
    this.headerBytes += 2;
    if (line === '') {
      this.finishHeader();
    } else if (/^[ \t]/.test(line) && this.headerLines.length > 0) {
      this.headerLines.push(line);
    } else if (/^[\x21-\x39\x3b-\x7e]+:/.test(line)) {
      this.headerLines.push(line);
    } else {
      // Not a header field: the body started without the empty line. End the header block here and
      // add the separator, so no downstream parser reads this line as a header.
      this.finishHeader();
      this.out.push(Buffer.from(line, 'latin1'), CRLF);
    }
  }

  private finishHeader(): void {
    this.inHeader = false;
    const fields: string[] = [];
    for (const line of this.headerLines) {
      if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += `\r\n${line}`;
      else fields.push(line);
    }
    this.headerLines = [];
    const nameOf = (f: string) => f.slice(0, f.indexOf(':')).trim().toLowerCase();
    const has = (name: string) => fields.some((f) => nameOf(f) === name);
    if (this.opts.rewriteFrom !== undefined) {
      for (let k = 0; k < fields.length; k++) {
        const f = fields[k] as string;
        if (nameOf(f) !== 'from') continue;
        const value = f.slice(f.indexOf(':') + 1);
        fields[k] = `From: ${rewriteAddress(value, this.opts.rewriteFrom)}`;
        this.changes.push('From rewritten');
      }
    }
    if (this.opts.addMissingHeaders) {
      if (!has('from')) {
        fields.push(`From: <${this.opts.rewriteFrom ?? this.opts.defaultFrom}>`);
        this.changes.push('From added');
      }
      if (!has('date')) {
        fields.push(`Date: ${this.opts.date}`);
        this.changes.push('Date added');
      }
      if (!has('message-id')) {
        fields.push(`Message-ID: ${this.opts.messageId}`);
        this.changes.push('Message-ID added');
      }
    }
    const mid = fields.find((f) => nameOf(f) === 'message-id');
    if (mid !== undefined) this.messageIdHeader = mid.slice(mid.indexOf(':') + 1).trim();
    const text = fields.map((f) => `${f}\r\n`).join('');
    this.out.push(Buffer.from(text, 'latin1'));
    // The empty line that ends the header block: the one received, or the one a message without it needs.
    this.out.push(CRLF);
  }
}

/**
 * A From: value with its address replaced and its display name kept as written (raw, so
 * encoded-words and quoting survive). Groups and lists collapse to one mailbox.
 */
export function rewriteAddress(rawValue: string, address: string): string {
  const value = rawValue.replace(/\r\n(?=[ \t])/g, '').trim();
  const parsed = addressparser(value) as { name?: string; address?: string; group?: unknown }[];
  const single = parsed.length === 1 && parsed[0] !== undefined && parsed[0].group === undefined;
  if (single) {
    const angle = /<[^<>]*>(\s*\([^()]*\))*\s*$/.exec(value);
    if (angle) return `${value.slice(0, angle.index)}<${address}>`;
    const name = parsed[0]?.name;
    return name ? `${quoteName(name)} <${address}>` : `<${address}>`;
  }
  const first = parsed.find((p) => p.name);
  return first?.name ? `${quoteName(first.name)} <${address}>` : `<${address}>`;
}

function quoteName(name: string): string {
  if (/^[\w !#$%&'*+\-/=?^`{|}~]+$/.test(name) || /^=\?[^?]+\?[bBqQ]\?[^?]*\?=$/.test(name)) return name;
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

/** The same pass as a Transform stream (object-free, Buffer in and out). */
export class ContentTransform extends Transform {
  readonly normalizer: ContentNormalizer;

  constructor(opts: ContentOptions) {
    super();
    this.normalizer = new ContentNormalizer(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    for (const b of this.normalizer.push(chunk)) this.push(b);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    for (const b of this.normalizer.end()) this.push(b);
    cb();
  }
}
