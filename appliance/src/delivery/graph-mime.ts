// MIME work for the Graph transport, kept apart from HTTP: (1) the small path's header fix-ups on a
// message already in memory (envelope-only recipients become Bcc:, optional From: rewrite), and
// (2) the large path's two streaming passes over the spool file with mailparser: a scan that learns
// the headers, the body text and each attachment's decoded size (needed before an upload session
// can be opened), then a walk that hands each attachment's decoded bytes to the uploader as a stream.
// Neither pass holds an attachment in memory. Reads the message; writes nothing.

import type { Readable } from 'node:stream';
import { type AddressObject, type AttachmentStream, type Headers, MailParser } from 'mailparser';
import addressparser from 'nodemailer/lib/addressparser';
import type { MessageSource } from '../spool/record.ts';
import { openMessage } from './transport.ts';

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

export function parseAddresses(value: string): NamedAddress[] {
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

// ---- large path ---------------------------------------------------------------------------------

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

function parser(): MailParser {
  return new MailParser({
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
    skipTextLinks: true,
    checksumAlgo: false,
  });
}

function named(field: unknown): NamedAddress[] {
  if (field === undefined || field === null) return [];
  const out: NamedAddress[] = [];
  const walk = (list: AddressObject['value']) => {
    for (const a of list) {
      if (a.address) out.push(a.name ? { address: a.address, name: a.name } : { address: a.address });
      if (a.group) walk(a.group);
    }
  };
  for (const f of Array.isArray(field) ? field : [field]) walk((f as AddressObject).value ?? []);
  return out;
}

function attachmentName(a: AttachmentStream, index: number): string {
  if (a.filename) return a.filename;
  const ext = a.contentType.split('/')[1]?.replace(/[^a-z0-9]/gi, '') ?? 'bin';
  return `attachment-${index + 1}.${ext}`;
}

/**
 * Runs mailparser over the message, calling `onAttachment` for each attachment in order with its
 * decoded content stream; the parser waits until the callback resolves (backpressure), so only the
 * chunk being processed is in memory.
 */
async function walk(
  msg: MessageSource,
  onAttachment: (a: AttachmentStream, index: number) => Promise<void>,
): Promise<{ headers: Headers | undefined; text?: string; html?: string }> {
  const p = parser();
  const src: Readable = openMessage(msg);
  src.on('error', (err) => p.destroy(err));
  let headers: Headers | undefined;
  p.once('headers', (h: Headers) => {
    headers = h;
  });
  src.pipe(p);
  let text: string | undefined;
  let html: string | undefined;
  let index = 0;
  try {
    for await (const data of p as AsyncIterable<
      AttachmentStream | { type: 'text'; text?: string; html?: string }
    >) {
      if (data.type === 'attachment') {
        try {
          await onAttachment(data, index);
        } finally {
          data.release?.();
        }
        index += 1;
      } else {
        if (typeof data.text === 'string') text = data.text;
        if (typeof data.html === 'string') html = data.html;
      }
    }
  } finally {
    src.destroy();
  }
  return { headers, ...(text === undefined ? {} : { text }), ...(html === undefined ? {} : { html }) };
}

/** Pass 1: headers, body and every attachment's decoded size; attachment bytes are counted, not kept. */
export async function scanMessage(msg: MessageSource): Promise<MessageScan> {
  const attachments: ScannedAttachment[] = [];
  const result = await walk(msg, async (a, index) => {
    let size = 0;
    for await (const chunk of a.content as AsyncIterable<Buffer>) size += chunk.length;
    const isInline = a.related === true || (a.contentDisposition === 'inline' && a.cid !== undefined);
    attachments.push({
      index,
      name: attachmentName(a, index),
      contentType: a.contentType,
      size,
      isInline,
      ...(a.cid === undefined ? {} : { contentId: a.cid }),
    });
  });
  const h = result.headers;
  const xHeaders: { name: string; value: string }[] = [];
  let importance: MessageScan['importance'];
  if (h !== undefined) {
    for (const [key, value] of h) {
      if (/^x-/i.test(key) && typeof value === 'string' && xHeaders.length < 5) {
        xHeaders.push({
          name: key.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()),
          value,
        });
      }
    }
    const prio = String(h.get('importance') ?? h.get('x-priority') ?? '').toLowerCase();
    importance = /high|^[12]/.test(prio) ? 'high' : /low|^[45]/.test(prio) ? 'low' : undefined;
  }
  const from = named(h?.get('from'))[0];
  const subject = h?.get('subject');
  return {
    ...(typeof subject === 'string' ? { subject } : {}),
    ...(from === undefined ? {} : { from }),
    replyTo: named(h?.get('reply-to')),
    to: named(h?.get('to')),
    cc: named(h?.get('cc')),
    bcc: named(h?.get('bcc')),
    ...(result.text === undefined ? {} : { text: result.text }),
    ...(result.html === undefined ? {} : { html: result.html }),
    ...(importance === undefined ? {} : { importance }),
    xHeaders,
    attachments,
  };
}

/** Pass 2: each attachment's decoded bytes, in the order the scan listed them. */
export async function eachAttachment(
  msg: MessageSource,
  fn: (content: AsyncIterable<Buffer>, index: number) => Promise<void>,
): Promise<void> {
  await walk(msg, async (a, index) => {
    await fn(a.content as AsyncIterable<Buffer>, index);
    // Whatever the callback left unread is drained so the parser can go on.
    a.content.resume();
  });
}
