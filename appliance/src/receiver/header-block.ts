// Watches the start of a message as it streams past and keeps its header block (up to the first
// empty line), so routing rules and operator views can use Subject/Message-ID/any header without
// re-reading the spool file. Bounded: a header block larger than `limit` is cut and flagged.

export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

export class HeaderBlock {
  private readonly limit: number;
  private parts: Buffer[] = [];
  private size = 0;
  private done = false;
  /** True when the header block exceeded the limit. */
  overflow = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  get complete(): boolean {
    return this.done;
  }

  get bytes(): number {
    return this.size;
  }

  /** Feed message bytes in order; cheap once the header block has ended. */
  push(chunk: Buffer): void {
    if (this.done) return;
    if (this.size === 0 && (chunk[0] === 0x0a || (chunk[0] === 0x0d && chunk[1] === 0x0a))) {
      // A message that starts with an empty line has no header fields.
      this.done = true;
      return;
    }
    const prevTail =
      this.size > 0 ? (this.parts[this.parts.length - 1] as Buffer).subarray(-3) : Buffer.alloc(0);
    const probe = prevTail.length > 0 ? Buffer.concat([prevTail, chunk]) : chunk;
    const end = findBlankLine(probe);
    if (end >= 0) {
      const take = end - prevTail.length;
      this.append(chunk.subarray(0, Math.max(take, 0)));
      this.done = true;
      return;
    }
    this.append(chunk);
  }

  private append(buf: Buffer): void {
    const room = this.limit - this.size;
    if (buf.length > room) {
      this.overflow = true;
      this.done = true;
      if (room > 0) this.parts.push(buf.subarray(0, room));
      this.size = this.limit;
      return;
    }
    this.parts.push(buf);
    this.size += buf.length;
  }

  /** Unfolded header fields in order (RFC 5322 §2.2.3). Values are raw (encoded-words kept). */
  fields(): HeaderField[] {
    const text = Buffer.concat(this.parts).toString('latin1');
    const out: HeaderField[] = [];
    for (const line of text.split(/\r?\n(?![ \t])/)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
      out.push({
        name,
        value: Buffer.from(
          line
            .slice(i + 1)
            .replace(/\r?\n[ \t]/g, ' ')
            .trim(),
          'latin1',
        ).toString('utf8'),
      });
    }
    return out;
  }
}

/** Index just past the header block's terminating empty line in buf, or -1. */
function findBlankLine(buf: Buffer): number {
  for (let i = 0; i < buf.length - 1; i++) {
    if (buf[i] === 0x0a) {
      if (buf[i + 1] === 0x0a) return i + 2;
      if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
    }
  }
  return -1;
}

export function headerValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}
