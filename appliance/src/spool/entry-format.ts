// On-disk format of a spool entry. The message bytes come first, so the file IS the message from
// offset 0 and transports stream it without copying; the JSON header follows, then a fixed-length
// footer that locates it:
//
//   <message bytes><header JSON>\nRKSPOOL1 <message length: 16 hex> <header length: 8 hex>\n
//
// A file whose footer is missing or whose lengths do not add up is corrupt (truncated, or not ours)
// and gets quarantined. The header is written after DATA because routing needs the message's size
// and headers.
import type { SpoolHeader } from './record.ts';

export const MAGIC = 'RKSPOOL1';
export const FOOTER_LENGTH = 1 + MAGIC.length + 1 + 16 + 1 + 8 + 1;

export function encodeTrailer(header: SpoolHeader, messageLength: number): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const footer = `\n${MAGIC} ${messageLength.toString(16).padStart(16, '0')} ${json.length.toString(16).padStart(8, '0')}\n`;
  return Buffer.concat([json, Buffer.from(footer, 'latin1')]);
}

export interface Footer {
  readonly messageLength: number;
  readonly headerLength: number;
}

export function decodeFooter(buf: Buffer, fileSize: number): Footer {
  const text = buf.toString('latin1');
  const m = /^\nRKSPOOL1 ([0-9a-f]{16}) ([0-9a-f]{8})\n$/.exec(text);
  if (!m) throw new Error('footer missing or damaged');
  const messageLength = Number.parseInt(m[1] as string, 16);
  const headerLength = Number.parseInt(m[2] as string, 16);
  if (messageLength + headerLength + FOOTER_LENGTH !== fileSize) {
    throw new Error(
      `lengths do not add up: message ${messageLength} + header ${headerLength} + footer != file ${fileSize}`,
    );
  }
  return { messageLength, headerLength };
}

export function decodeHeader(buf: Buffer): SpoolHeader {
  const value: unknown = JSON.parse(buf.toString('utf8'));
  if (!isHeader(value)) throw new Error('header JSON lacks required fields');
  return value;
}

function isHeader(v: unknown): v is SpoolHeader {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  const env = h.envelope as Record<string, unknown> | undefined;
  return (
    h.version === 1 &&
    typeof h.id === 'string' &&
    typeof h.receivedAt === 'number' &&
    typeof env === 'object' &&
    env !== null &&
    typeof env.mailFrom === 'string' &&
    Array.isArray(env.rcptTo) &&
    typeof h.identity === 'string' &&
    Array.isArray(h.deliveries) &&
    h.deliveries.every(
      (d: unknown) =>
        typeof d === 'object' && d !== null && typeof (d as { route?: unknown }).route === 'string',
    )
  );
}
