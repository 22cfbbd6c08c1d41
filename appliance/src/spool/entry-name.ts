// Spool ids: time-sortable, unique across restarts and processes, safe as file names. The id encodes
// when the message was received so a directory listing sorts oldest first without reading files.
import { randomBytes } from 'node:crypto';

const ID_RE = /^([0-9a-z]{9})-([0-9a-z]{4})-([0-9a-f]{8})$/;

let lastMs = 0;
let seq = 0;

export interface EntryIdParts {
  readonly receivedAt: number;
  readonly seq: number;
  readonly random: string;
}

/** Formats id parts; receivedAt must be epoch ms below 36^9 (year 5188). */
export function formatEntryId(parts: EntryIdParts): string {
  return `${parts.receivedAt.toString(36).padStart(9, '0')}-${parts.seq.toString(36).padStart(4, '0')}-${parts.random}`;
}

export function parseEntryId(id: string): EntryIdParts | undefined {
  const m = ID_RE.exec(id);
  if (!m) return undefined;
  return {
    receivedAt: Number.parseInt(m[1] as string, 36),
    seq: Number.parseInt(m[2] as string, 36),
    random: m[3] as string,
  };
}

export function isEntryId(id: string): boolean {
  return ID_RE.test(id);
}

export function newEntryId(now: number = Date.now()): string {
  if (now === lastMs) seq = (seq + 1) % 36 ** 4;
  else {
    lastMs = now;
    seq = 0;
  }
  return formatEntryId({ receivedAt: now, seq, random: randomBytes(4).toString('hex') });
}
