// MIME work for the Graph transport's small path, kept apart from HTTP: header fix-ups on a message
// already in memory (envelope-only recipients become Bcc:, optional From: rewrite) before a MIME
// sendMail. The large path's streaming passes are graph-scan.ts. Pure.
import addressparser from 'nodemailer/lib/addressparser';

export interface NamedAddress {
  readonly address: string;
  readonly name?: string;
}

/** Byte offset where the header block ends (the blank line's first byte), or the message length. */
export function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 2;
  if (lf >= 0) return lf + 1;
  return raw.length;
}

interface HeaderField {
  readonly name: string;
  /** Raw field including folded continuation lines and its line break. */
  readonly raw: string;
}

function fields(block: string): HeaderField[] {
  const out: HeaderField[] = [];
  for (const line of block.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(line) && out.length > 0) {
      const last = out.pop() as HeaderField;
      out.push({ name: last.name, raw: last.raw + line });
    } else if (line.trim() !== '') {
      out.push({
        name: line
          .slice(0, Math.max(0, line.indexOf(':')))
          .trim()
          .toLowerCase(),
        raw: line,
      });
    }
  }
  return out;
}

function unfoldedValue(f: HeaderField): string {
  // Header bytes were read as latin1 to keep them intact; addresses may be UTF-8 (SMTPUTF8).
  const utf8 = Buffer.from(f.raw, 'latin1').toString('utf8');
  return utf8
    .slice(utf8.indexOf(':') + 1)
    .replace(/\r?\n[ \t]/g, ' ')
    .trim();
}

/** One bare addr-spec (`user@host`), the usual To: of a device: nothing for addressparser to do. */
const BARE_ADDRESS = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

export function parseAddresses(value: string): NamedAddress[] {
  if (BARE_ADDRESS.test(value)) return [{ address: value }];
  return addressparser(value, { flatten: true })
    .filter((a) => a.address !== '')
    .map((a) => (a.name ? { address: a.address, name: a.name } : { address: a.address }));
}

export interface SendMailMime {
  readonly mime: Buffer;
  /** Addresses in To/Cc/Bcc that are not recipients of this leg (Graph would deliver to them too). */
  readonly foreignRecipients: string[];
  /** Leg recipients added as Bcc:. */
  readonly addedBcc: string[];
}

export interface SendMailFixups {
  readonly recipients: readonly string[];
  /** Replace From: with this mailbox (old From becomes Reply-To when there is none). */
  readonly rewriteFromTo?: string;
}

/**
 * Fixes the header block for MIME sendMail. Graph takes recipients from the content, not an
 * envelope, so leg recipients missing from To/Cc/Bcc are added as one Bcc: field.
 */
export function prepareSendMailMime(raw: Buffer, fix: SendMailFixups): SendMailMime {
  const end = headerEnd(raw);
  const block = raw.subarray(0, end).toString('latin1');
  const eol = block.includes('\r\n') ? '\r\n' : '\n';
  let list = fields(block);
  const inHeaders = new Map<string, string>();
  for (const f of list) {
    if (f.name === 'to' || f.name === 'cc' || f.name === 'bcc') {
      for (const a of parseAddresses(unfoldedValue(f))) inHeaders.set(a.address.toLowerCase(), a.address);
    }
  }
  const leg = new Set(fix.recipients.map((r) => r.toLowerCase()));
  const foreignRecipients = [...inHeaders.keys()].filter((a) => !leg.has(a));
  const addedBcc = fix.recipients.filter((r) => !inHeaders.has(r.toLowerCase()));
  // Nothing to fix and a body present: the message goes as it is (no copy of it).
  if (addedBcc.length === 0 && fix.rewriteFromTo === undefined && end < raw.length) {
    return { mime: raw, foreignRecipients, addedBcc };
  }
  if (addedBcc.length > 0) {
    const existing = list.find((f) => f.name === 'bcc');
    const all = [
      ...(existing ? parseAddresses(unfoldedValue(existing)).map((a) => a.address) : []),
      ...addedBcc,
    ];
    list = list.filter((f) => f.name !== 'bcc');
    list.push({ name: 'bcc', raw: `Bcc: ${all.join(`,${eol} `)}${eol}` });
  }
  if (fix.rewriteFromTo !== undefined) {
    const from = list.find((f) => f.name === 'from');
    if (from !== undefined && !list.some((f) => f.name === 'reply-to')) {
      list.push({ name: 'reply-to', raw: `Reply-To:${from.raw.slice(from.raw.indexOf(':') + 1)}` });
    }
    list = list.filter((f) => f.name !== 'from');
    list.push({ name: 'from', raw: `From: ${fix.rewriteFromTo}${eol}` });
  }
  const head = Buffer.from(list.map((f) => f.raw).join(''), 'latin1');
  const sep = end < raw.length ? raw.subarray(end) : Buffer.from(eol);
  return { mime: Buffer.concat([head, sep]), foreignRecipients, addedBcc };
}
