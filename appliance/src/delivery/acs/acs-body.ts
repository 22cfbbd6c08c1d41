// The ACS send request body as a stream: the `EmailMessage` JSON of one recipient chunk, with every
// attachment's base64 written in small pieces as the body is read — copied from the spool file when
// the message carried it as base64 (acs-base64-copy.ts), else encoded from its decoded bytes. Neither
// the base64 nor the whole JSON text ever exist at once, so converting a 10 MB message costs a few
// hundred KB besides the parsed text. The body can be read more than once (once for the access-key
// content hash, once per send), and its byte length is known before any of it is read.
import { createHash, randomUUID } from 'node:crypto';
import { type AttachmentContent, readSpooledBase64, spooledBase64Length } from './acs-base64-copy.ts';
import type { AcsTemplate, PlacedRecipient } from './acs-mime.ts';
import { messageFor } from './acs-mime.ts';

/** A request body that can be produced again on demand, with its size and SHA-256 known first. */
export interface StreamedBody {
  readonly bytes: number;
  /** base64 SHA-256 of the bytes (the ACS `x-ms-content-sha256`). */
  readonly hash: string;
  chunks(): AsyncIterable<Buffer>;
}

/** 48 KiB of input per piece (a multiple of 3: no base64 padding inside the string). */
const PIECE = 3 * 16 * 1024;

function base64Length(content: AttachmentContent): number {
  return Buffer.isBuffer(content) ? 4 * Math.ceil(content.length / 3) : spooledBase64Length(content);
}

async function* base64Of(content: AttachmentContent, scratch?: Buffer): AsyncGenerator<Buffer> {
  if (!Buffer.isBuffer(content)) {
    yield* readSpooledBase64(content, scratch);
    return;
  }
  for (let off = 0; off < content.length; off += PIECE) {
    yield Buffer.from(content.subarray(off, off + PIECE).toString('base64'), 'latin1');
  }
}

/** The body before it is hashed: its length and its pieces. */
export interface BodyPlan {
  readonly bytes: number;
  /** With `scratch`, copied base64 is written into it: each piece valid until the next one. */
  chunks(scratch?: Buffer): AsyncGenerator<Buffer>;
}

/**
 * The JSON body for one chunk. The JSON skeleton holds a marker in each `contentInBase64`; the
 * marker is replaced by the attachment's base64, produced piece by piece when read.
 */
export function bodyPlan(template: AcsTemplate, recipients: readonly PlacedRecipient[]): BodyPlan {
  const contents = template.contents;
  // A marker no message text can hold (a fresh UUID between control characters, escaped in JSON).
  const mark = `\u0001${randomUUID()}\u0001`;
  const parts = JSON.stringify(messageFor(template, recipients, () => mark)).split(JSON.stringify(mark));
  if (parts.length !== contents.length + 1) throw new Error('acs-body: attachment markers out of step');
  const texts = parts.map((p) => Buffer.from(p, 'utf8'));
  let bytes = 0;
  for (const t of texts) bytes += t.length;
  for (const c of contents) bytes += base64Length(c) + 2; // + the two quotes
  const quote = Buffer.from('"');
  async function* chunks(scratch?: Buffer): AsyncGenerator<Buffer> {
    for (let i = 0; i < texts.length; i++) {
      yield texts[i]!;
      const content = contents[i];
      if (content === undefined) continue;
      yield quote;
      yield* base64Of(content, scratch);
      yield quote;
    }
  }
  return { bytes, chunks };
}

/** The body with its SHA-256, read once to hash it (which also checks every copied range). */
export async function acsBody(
  template: AcsTemplate,
  recipients: readonly PlacedRecipient[],
): Promise<StreamedBody> {
  const plan = bodyPlan(template, recipients);
  const h = createHash('sha256');
  let read = 0;
  // Each piece is hashed before the next is made: one scratch buffer serves the whole pass.
  for await (const c of plan.chunks(Buffer.allocUnsafe(64 * 1024))) {
    h.update(c);
    read += c.length;
  }
  if (read !== plan.bytes) throw new Error(`acs-body: ${read} bytes read, ${plan.bytes} planned`);
  return { bytes: plan.bytes, hash: h.digest('base64'), chunks: () => plan.chunks() };
}
