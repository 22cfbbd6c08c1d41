// MIME work for the Graph transport's large path: two streaming passes over the spool file with
// mailsplit's Splitter — a scan that learns the headers, the body text and each attachment's decoded
// size (needed before an upload session can be opened) without decoding attachments, then a walk that
// decodes each attachment chunk by chunk for the uploader. Neither pass holds an attachment in memory.
// The Splitter is used directly rather than mailparser because mailparser's decode/hash/charset
// stages made ~40 MB of short-lived garbage per 150 MB message, which showed up as peak RSS. Reads
// the message only.
import { Splitter } from '@zone-eu/mailsplit';
import iconv from 'iconv-lite';
import { decodeEncodedWords, decodeQuotedPrintable, quotedPrintableCut } from '../../mime-text.ts';
import type { MessageSource } from '../../spool/record.ts';
import type { SplitChunk, SplitNode } from '../mime-split.ts';
import { openMessage } from '../transport.ts';
import { type NamedAddress, parseAddresses } from './graph-mime.ts';

export interface ScannedAttachment {
  readonly index: number;
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  readonly isInline: boolean;
  readonly contentId?: string;
}

export interface MessageScan {
  readonly subject?: string;
  readonly from?: NamedAddress;
  readonly replyTo: NamedAddress[];
  readonly to: NamedAddress[];
  readonly cc: NamedAddress[];
  readonly bcc: NamedAddress[];
  readonly text?: string;
  readonly html?: string;
  readonly importance?: 'low' | 'normal' | 'high';
  /** X- headers (Graph's internetMessageHeaders take only x- names, at most 5). */
  readonly xHeaders: { name: string; value: string }[];
  readonly attachments: ScannedAttachment[];
}

function charsetDecode(buf: Buffer, charset: string | false): string {
  const cs = (charset || 'utf-8').toLowerCase();
  return iconv.encodingExists(cs) ? iconv.decode(buf, cs) : buf.toString('utf8');
}

function headerValue(node: SplitNode, key: string): string | undefined {
  if (node.headers === false) return undefined;
  const line = node.headers.getFirst(key);
  return line === '' ? undefined : line;
}

function namedList(value: string | undefined): NamedAddress[] {
  if (value === undefined) return [];
  return parseAddresses(value).map((a) =>
    a.name ? { address: a.address, name: decodeEncodedWords(a.name) } : { address: a.address },
  );
}

type LeafKind = 'text' | 'html' | 'attachment';

function leafKind(node: SplitNode): LeafKind | undefined {
  if (node.multipart) return undefined;
  const type = node.contentType || 'text/plain';
  if (node.disposition !== 'attachment' && !node.filename) {
    if (type === 'text/plain') return 'text';
    if (type === 'text/html') return 'html';
  }
  return 'attachment';
}

function isRelated(node: SplitNode): boolean {
  for (let p = node.parentNode; p; p = p.parentNode) if (p.multipart === 'related') return true;
  return false;
}

function describe(node: SplitNode, index: number, size: number): ScannedAttachment {
  const type = node.contentType || 'application/octet-stream';
  const cid = headerValue(node, 'content-id')?.trim().replace(/^<|>$/g, '');
  const name = node.filename
    ? decodeEncodedWords(node.filename)
    : `attachment-${index + 1}.${type.split('/')[1]?.replace(/[^a-z0-9]/gi, '') || 'bin'}`;
  return {
    index,
    name,
    contentType: type,
    size,
    isInline: cid !== undefined && (isRelated(node) || node.disposition === 'inline'),
    ...(cid === undefined ? {} : { contentId: cid }),
  };
}

/** Decodes one part's transfer encoding chunk by chunk. */
class PartDecoder {
  private readonly encoding: string;
  private rest = '';
  private qpRest = Buffer.alloc(0);

  /** Reused output buffer: the result of push() is valid only until the next push(). */
  private scratch: Buffer | undefined;

  constructor(encoding: string | false, reuseOutput = false) {
    this.encoding = (encoding || '7bit').toLowerCase();
    if (reuseOutput) this.scratch = Buffer.allocUnsafe(64 * 1024);
  }

  push(chunk: Buffer): Buffer {
    if (this.encoding === 'base64') {
      const s = this.rest + chunk.toString('latin1').replace(/[^A-Za-z0-9+/]/g, '');
      const usable = s.length - (s.length % 4);
      this.rest = s.slice(usable);
      if (this.scratch === undefined) return Buffer.from(s.slice(0, usable), 'base64');
      // Decoding into one reused buffer keeps ~150 MB of decoded chunks per large message from
      // becoming external garbage that the collector reclaims late.
      if (this.scratch.length < (usable / 4) * 3) this.scratch = Buffer.allocUnsafe((usable / 4) * 3);
      const n = this.scratch.write(s.slice(0, usable), 0, 'base64');
      return this.scratch.subarray(0, n);
    }
    if (this.encoding === 'quoted-printable') {
      // Decode whole lines; the partial last line waits for the next chunk.
      const buf = Buffer.concat([this.qpRest, chunk]);
      const split = quotedPrintableCut(buf);
      this.qpRest = buf.subarray(split);
      return decodeQuotedPrintable(buf.subarray(0, split));
    }
    return chunk;
  }

  end(): Buffer {
    if (this.encoding === 'base64') return Buffer.from(this.rest, 'base64');
    if (this.encoding === 'quoted-printable') return decodeQuotedPrintable(this.qpRest);
    return Buffer.alloc(0);
  }
}

/** Decoded size of a base64 body chunk: 6 bits per base64 letter (padding and whitespace excluded). */
function base64Letters(chunk: Buffer): number {
  let n = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i] as number;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47) n++;
  }
  return n;
}

async function* split(msg: MessageSource): AsyncGenerator<SplitChunk> {
  const splitter = new Splitter({ ignoreEmbedded: true });
  const src = openMessage(msg);
  src.on('error', (err) => splitter.destroy(err));
  src.pipe(splitter);
  try {
    for await (const chunk of splitter as AsyncIterable<SplitChunk>) yield chunk;
  } finally {
    src.destroy();
    splitter.destroy();
  }
}

/** Pass 1: headers, body text and every attachment's decoded size; attachments are not decoded. */
export async function scanMessage(msg: MessageSource): Promise<MessageScan> {
  const attachments: ScannedAttachment[] = [];
  let root: SplitNode | undefined;
  let current:
    | { node: SplitNode; kind: LeafKind; size: number; decoder: PartDecoder; text: Buffer[] }
    | undefined;
  let text: string | undefined;
  let html: string | undefined;
  const finish = () => {
    if (current === undefined) return;
    const c = current;
    current = undefined;
    if (c.kind === 'attachment') {
      if (c.decoder instanceof PartDecoder && (c.node.encoding || '').toLowerCase() === 'quoted-printable') {
        c.size += c.decoder.end().length;
      }
      attachments.push(describe(c.node, attachments.length, c.size));
      return;
    }
    const body = charsetDecode(
      Buffer.concat([...c.text.map((b) => c.decoder.push(b)), c.decoder.end()]),
      c.node.charset,
    );
    if (c.kind === 'html') html = html === undefined ? body : `${html}\n${body}`;
    else text = text === undefined ? body : `${text}\n${body}`;
  };
  for await (const chunk of split(msg)) {
    if (chunk.type === 'node') {
      finish();
      root ??= chunk;
      const kind = leafKind(chunk);
      if (kind !== undefined)
        current = { node: chunk, kind, size: 0, decoder: new PartDecoder(chunk.encoding), text: [] };
      continue;
    }
    if (chunk.type !== 'body' || current === undefined || chunk.node !== current.node) continue;
    if (current.kind !== 'attachment') {
      current.text.push(chunk.value);
      continue;
    }
    const enc = (current.node.encoding || '').toLowerCase();
    if (enc === 'base64') current.size += base64Letters(chunk.value) * 0.75;
    else if (enc === 'quoted-printable') current.size += current.decoder.push(chunk.value).length;
    else current.size += chunk.value.length;
  }
  finish();
  for (const a of attachments) (a as { size: number }).size = Math.floor(a.size);
  const xHeaders: { name: string; value: string }[] = [];
  let importance: MessageScan['importance'];
  if (root !== undefined && root.headers !== false) {
    for (const { key, line } of root.headers.getList()) {
      if (!/^x-/i.test(key) || xHeaders.length >= 5) continue;
      const raw = Buffer.isBuffer(line) ? line.toString('utf8') : line;
      const name = raw.slice(0, raw.indexOf(':')).trim();
      xHeaders.push({
        name,
        value: decodeEncodedWords(
          raw
            .slice(raw.indexOf(':') + 1)
            .replace(/\r?\n[ \t]/g, ' ')
            .trim(),
        ),
      });
    }
    const prio = (headerValue(root, 'importance') ?? headerValue(root, 'x-priority') ?? '').toLowerCase();
    importance = /high|^[12]/.test(prio) ? 'high' : /low|^[45]/.test(prio) ? 'low' : undefined;
  }
  const h = (k: string) => (root === undefined ? undefined : headerValue(root, k));
  const subject = h('subject');
  const from = namedList(h('from'))[0];
  return {
    ...(subject === undefined ? {} : { subject: decodeEncodedWords(subject) }),
    ...(from === undefined ? {} : { from }),
    replyTo: namedList(h('reply-to')),
    to: namedList(h('to')),
    cc: namedList(h('cc')),
    bcc: namedList(h('bcc')),
    ...(text === undefined ? {} : { text }),
    ...(html === undefined ? {} : { html }),
    ...(importance === undefined ? {} : { importance }),
    xHeaders,
    attachments,
  };
}

/**
 * Pass 2: each attachment's decoded bytes, in the order the scan listed them. The callback gets an
 * async iterable that pulls from the splitter, so reading is paced by the uploader (backpressure).
 */
export async function eachAttachment(
  msg: MessageSource,
  /** Each chunk is valid until the next one is pulled: copy what must outlive it. */
  fn: (content: AsyncIterable<Buffer>, index: number) => Promise<void>,
): Promise<void> {
  const it = split(msg);
  let peeked: IteratorResult<SplitChunk> | undefined;
  const next = async () => {
    const r = peeked ?? (await it.next());
    peeked = undefined;
    return r;
  };
  let index = 0;
  try {
    for (;;) {
      const r = await next();
      if (r.done) return;
      const node = r.value;
      if (node.type !== 'node' || leafKind(node) !== 'attachment') continue;
      const decoder = new PartDecoder(node.encoding, true);
      let finished = false;
      const body: AsyncIterable<Buffer> = {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const c = await next();
            if (c.done || c.value.type === 'node') {
              peeked = c;
              finished = true;
              const tail = decoder.end();
              if (tail.length > 0) yield tail;
              return;
            }
            if (c.value.type === 'body' && c.value.node === node) {
              const out = decoder.push(c.value.value);
              if (out.length > 0) yield out;
            }
          }
        },
      };
      await fn(body, index);
      // Whatever the callback left unread is skipped so the walk can go on.
      if (!finished) for await (const _ of body) void _;
      index += 1;
    }
  } finally {
    await it.return(undefined);
  }
}
