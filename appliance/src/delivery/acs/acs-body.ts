// The ACS send request body as a stream: the `EmailMessage` JSON of one recipient chunk, with every
// attachment's base64 encoded in small pieces straight from its decoded bytes as the body is read.
// Neither the base64 copies nor the whole JSON text ever exist at once, so converting a 10 MB
// message costs the decoded attachments plus a few hundred KB. The body can be read more than once
// (once for the access-key content hash, once per send), and its byte length is known up front.
import { createHash, randomUUID } from 'node:crypto';
import type { AcsTemplate, PlacedRecipient } from './acs-mime.ts';
import { messageFor } from './acs-mime.ts';

/** A request body that can be produced again on demand, with its size and SHA-256 known first. */
export interface StreamedBody {
  readonly bytes: number;
  /** base64 SHA-256 of the bytes (the ACS `x-ms-content-sha256`). */
  readonly hash: string;
  chunks(): Iterable<Buffer>;
}

/** 48 KiB of input per piece (a multiple of 3: no base64 padding inside the string). */
const PIECE = 3 * 16 * 1024;

function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * The JSON body for one chunk. The JSON skeleton holds a marker in each `contentInBase64`; the
 * marker is replaced by the attachment's base64, produced piece by piece when read.
 */
export function acsBody(template: AcsTemplate, recipients: readonly PlacedRecipient[]): StreamedBody {
  const contents = template.contents;
  // A marker no message text can hold (a fresh UUID between control characters, escaped in JSON).
  const mark = `\u0001${randomUUID()}\u0001`;
  const parts = JSON.stringify(messageFor(template, recipients, () => mark)).split(JSON.stringify(mark));
  if (parts.length !== contents.length + 1) throw new Error('acs-body: attachment markers out of step');
  const texts = parts.map((p) => Buffer.from(p, 'utf8'));
  let bytes = 0;
  for (const t of texts) bytes += t.length;
  for (const c of contents) bytes += base64Length(c.length) + 2; // + the two quotes
  function* chunks(): Generator<Buffer> {
    for (let i = 0; i < texts.length; i++) {
      yield texts[i]!;
      const content = contents[i];
      if (content === undefined) continue;
      yield Buffer.from('"');
      for (let off = 0; off < content.length; off += PIECE) {
        yield Buffer.from(content.subarray(off, off + PIECE).toString('base64'), 'latin1');
      }
      yield Buffer.from('"');
    }
  }
  const h = createHash('sha256');
  for (const c of chunks()) h.update(c);
  return { bytes, hash: h.digest('base64'), chunks };
}
