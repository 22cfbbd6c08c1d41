// Receiving room: measures the body a transport would have to send inline (the text/HTML leaves
// that are not attachments, decoded), reading a message back from the spool's temporary file before
// the 250. Graph puts exactly that into one draft request (reference A3), so this is the number
// routing/capacity.ts compares with a route's maxBodySize. Only messages larger than the smallest
// body limit are measured; smaller ones cannot have a larger body. Reads; never writes.
import { createReadStream } from 'node:fs';
import type { MessageSource } from '../spool/record.ts';

export interface BodyMeasure {
  /** Decoded bytes of all inline text/html leaves. */
  readonly html: number;
  readonly text: number;
  /** What goes into a draft body: the HTML if there is any, else the text (as graph.ts sends it). */
  readonly body: number;
}

interface SplitNode {
  readonly type: 'node';
  readonly multipart: string | false;
  readonly encoding: string | false;
  readonly contentType: string | false;
  readonly disposition: string | false;
  readonly filename: string | false;
}

type SplitChunk = SplitNode | { type: 'body' | 'data'; value: Buffer; node?: SplitNode };

/** 'html' | 'text' for a leaf that is inline body text, as the Graph scan classifies it. */
function bodyKind(node: SplitNode): 'html' | 'text' | undefined {
  if (node.multipart || node.disposition === 'attachment' || node.filename) return undefined;
  const type = node.contentType || 'text/plain';
  return type === 'text/html' ? 'html' : type === 'text/plain' ? 'text' : undefined;
}

/** Decoded length of one chunk of a part, carrying state across chunks (base64 letters, QP escapes). */
class DecodedCounter {
  private readonly encoding: string;
  private letters = 0;
  private bytes = 0;
  private qpTail = '';

  constructor(encoding: string | false) {
    this.encoding = (encoding || '7bit').toLowerCase();
  }

  push(chunk: Buffer): void {
    if (this.encoding === 'base64') {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i] as number;
        if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47)
          this.letters++;
      }
    } else if (this.encoding === 'quoted-printable') {
      const s = this.qpTail + chunk.toString('latin1');
      // An "=XX" escape or "=\r\n" soft break may straddle chunks: keep a late "=" for later.
      const eq = s.lastIndexOf('=');
      const cut = eq >= s.length - 3 && eq >= 0 ? eq : s.length;
      const head = s.slice(0, cut);
      this.qpTail = s.slice(cut);
      this.bytes += qpLength(head);
    } else {
      this.bytes += chunk.length;
    }
  }

  get total(): number {
    if (this.encoding === 'base64') return Math.floor((this.letters * 3) / 4);
    if (this.encoding === 'quoted-printable') return this.bytes + qpLength(this.qpTail);
    return this.bytes;
  }
}

/** Decoded length of quoted-printable text: soft line breaks vanish, each =XX is one byte. */
function qpLength(s: string): number {
  const unbroken = s.replace(/=\r?\n/g, '');
  const escapes = unbroken.match(/=[0-9A-Fa-f]{2}/g)?.length ?? 0;
  return unbroken.length - escapes * 2;
}

/**
 * mailsplit (with libmime, iconv-lite and their charset tables: ~3.5 MB of RSS) is loaded by the first
 * message large enough to measure, not at start; test/appliance/image/bundle.test.ts imports every
 * lazy chunk of the bundle, so a broken one fails there.
 */
let mailsplit: Promise<typeof import('@zone-eu/mailsplit')> | undefined;

export async function measureBody(msg: MessageSource): Promise<BodyMeasure> {
  if (msg.length === 0) return { html: 0, text: 0, body: 0 };
  mailsplit ??= import('@zone-eu/mailsplit');
  const { Splitter } = await mailsplit;
  const splitter = new Splitter({ ignoreEmbedded: true });
  const src = createReadStream(msg.path, { start: msg.offset, end: msg.offset + msg.length - 1 });
  src.on('error', (err) => splitter.destroy(err));
  src.pipe(splitter);
  let html = 0;
  let text = 0;
  let htmlParts = 0;
  let textParts = 0;
  let current: { node: SplitNode; kind: 'html' | 'text'; counter: DecodedCounter } | undefined;
  const finish = () => {
    if (current === undefined) return;
    if (current.kind === 'html') {
      html += current.counter.total;
      htmlParts += 1;
    } else {
      text += current.counter.total;
      textParts += 1;
    }
    current = undefined;
  };
  try {
    for await (const chunk of splitter as AsyncIterable<SplitChunk>) {
      if (chunk.type === 'node') {
        finish();
        const kind = bodyKind(chunk);
        if (kind !== undefined) current = { node: chunk, kind, counter: new DecodedCounter(chunk.encoding) };
        continue;
      }
      if (chunk.type === 'body' && current !== undefined && chunk.node === current.node)
        current.counter.push(chunk.value);
    }
    finish();
  } finally {
    src.destroy();
    splitter.destroy();
  }
  // graph.ts joins several parts of a kind with a newline.
  html += Math.max(0, htmlParts - 1);
  text += Math.max(0, textParts - 1);
  return { html, text, body: htmlParts > 0 ? html : text };
}
