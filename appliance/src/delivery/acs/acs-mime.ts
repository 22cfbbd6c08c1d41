// Converts a spooled MIME message into ACS Email `EmailMessage` JSON bodies for one delivery leg:
// text and HTML bodies, attachments and inline images (contentId), Reply-To, the custom headers ACS
// carries, the sender rewritten to a provisioned ACS sender, and the leg's envelope recipients
// (authoritative) placed in To/Cc when the headers show them there, Bcc otherwise, split into
// request-sized chunks. Pure apart from parsing; no I/O.
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { type AddressObject, type EmailAddress, type ParsedMail, simpleParser } from 'mailparser';
import { RelayError } from '../../errors.ts';
import type { AttachmentContent, SpooledBase64 } from './acs-base64-copy.ts';

export interface AcsAddress {
  address: string;
  displayName?: string;
}

export interface AcsAttachment {
  name: string;
  contentType: string;
  contentInBase64: string;
  contentId?: string;
}

export interface AcsEmailMessage {
  senderAddress: string;
  content: { subject: string; plainText?: string; html?: string };
  recipients: { to: AcsAddress[]; cc?: AcsAddress[]; bcc?: AcsAddress[] };
  attachments?: AcsAttachment[];
  replyTo?: AcsAddress[];
  headers?: Record<string, string>;
  userEngagementTrackingDisabled?: boolean;
}

export interface SenderPolicy {
  /** The default provisioned sender. */
  readonly senderAddress: string;
  /** Other provisioned senders a message may keep as its From. */
  readonly provisionedSenders: readonly string[];
  readonly replyToOriginalSender: boolean;
}

export interface ConvertOptions {
  readonly sender: SenderPolicy;
  /** Header names (any case) copied besides X-* ones. */
  readonly passHeaders: readonly string[];
  readonly userEngagementTrackingDisabled: boolean;
}

export type RecipientKind = 'to' | 'cc' | 'bcc';

export interface PlacedRecipient {
  readonly kind: RecipientKind;
  readonly address: string;
  readonly displayName?: string;
}

/** An attachment as the template holds it: its bytes stay decoded until a body is written. */
export type AttachmentMeta = Omit<AcsAttachment, 'contentInBase64'>;

/** The parts of a message that are the same for every chunk of a leg. */
export interface AcsTemplate {
  readonly base: Omit<AcsEmailMessage, 'recipients' | 'attachments'> & { attachments?: AttachmentMeta[] };
  /**
   * The contents of base.attachments, same order: decoded bytes, encoded only while a body is read,
   * or base64 left in the spool file and copied from there (acs-base64-copy.ts).
   */
  readonly contents: readonly AttachmentContent[];
  /** The original From, when it was replaced by a provisioned sender. */
  readonly rewrittenFrom?: string;
  /** Header display lists, used to place envelope recipients. */
  readonly headerTo: readonly AcsAddress[];
  readonly headerCc: readonly AcsAddress[];
}

/**
 * Headers ACS builds itself from the JSON or that would contradict it; never copied. `x-ms-*` are
 * ACS control headers (x-ms-acsemail-*): a device must not be able to steer the service with them.
 */
const NEVER_COPY = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'content-id',
  'received',
  'return-path',
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
  'authentication-results',
]);

/** Standard headers worth keeping across the conversion (threading, priority, list handling). */
export const DEFAULT_PASS_HEADERS = [
  'Message-ID',
  'In-Reply-To',
  'References',
  'Importance',
  'Priority',
  'Sensitivity',
  'Auto-Submitted',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
] as const;

function flatten(obj: AddressObject | AddressObject[] | undefined): AcsAddress[] {
  const out: AcsAddress[] = [];
  const walk = (list: readonly EmailAddress[]) => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address)
        out.push(a.name ? { address: a.address, displayName: a.name } : { address: a.address });
    }
  };
  for (const o of obj === undefined ? [] : Array.isArray(obj) ? obj : [obj]) walk(o.value);
  return out;
}

/** "X-Foo: a\r\n b" → "a b": header values are copied raw (encoded-words intact), unfolded. */
function rawValue(line: string): string {
  const colon = line.indexOf(':');
  return line
    .slice(colon + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

const EXT_BY_TYPE: Record<string, string> = {
  'application/pdf': '.pdf',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'text/plain': '.txt',
  'text/calendar': '.ics',
  'message/rfc822': '.eml',
};

function attachmentName(i: number, contentType: string): string {
  return `attachment-${i + 1}${EXT_BY_TYPE[contentType] ?? '.bin'}`;
}

export function lower(address: string): string {
  return address.trim().toLowerCase();
}

/**
 * Body charset decoding for mailparser through WHATWG TextDecoder (ICU), in the shape of the native
 * `iconv` class mailparser accepts. mailparser's default path needs `libmime.createDecodeStream`,
 * which the libmime pinned by the root package.json `overrides` (5.4.6) lacks: without this, every
 * non-UTF-8 body (ISO-8859-1, windows-1252, Shift_JIS) silently came out as U+FFFD. An unknown
 * label throws here, and mailparser then leaves that body undecoded, as it does for UTF-7.
 */
export class TextDecoderIconv extends Transform {
  private readonly decoder: TextDecoder;

  constructor(fromCharset: string, _toCharset: string) {
    super();
    const label = fromCharset.trim().toLowerCase();
    this.decoder = new TextDecoder(label === 'cp949' ? 'euc-kr' : label);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (text !== '') this.push(Buffer.from(text, 'utf8'));
    done();
  }

  override _flush(done: TransformCallback): void {
    const text = this.decoder.decode();
    if (text !== '') this.push(Buffer.from(text, 'utf8'));
    done();
  }
}

/** Takes the message as bytes or as a stream (the transport streams it from the spool file). */
export async function parseMime(raw: Buffer | Readable): Promise<ParsedMail> {
  try {
    return await simpleParser(raw, {
      Iconv: TextDecoderIconv,
      // cid: links stay as they are: ACS resolves them against the attachments' contentId.
      keepCidLinks: true,
      skipImageLinks: true,
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
    });
  } catch (err) {
    throw new RelayError(
      'RELAY_ACS_MIME_INVALID',
      `the message cannot be parsed as MIME: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Everything but the recipients, from a parsed message and the envelope sender. `spooled` names the
 * attachments whose base64 stays in the spool file (parseSpooled).
 */
export function buildTemplate(
  mail: ParsedMail,
  mailFrom: string,
  options: ConvertOptions,
  spooled: ReadonlyMap<ParsedMail['attachments'][number], SpooledBase64> = new Map(),
): AcsTemplate {
  const from = flatten(mail.from)[0];
  const original = from?.address ?? (mailFrom === '' ? undefined : mailFrom);
  const allowed = new Set([options.sender.senderAddress, ...options.sender.provisionedSenders].map(lower));
  const keep = original !== undefined && allowed.has(lower(original));
  const senderAddress = keep ? original : options.sender.senderAddress;

  let replyTo = flatten(mail.replyTo);
  if (replyTo.length === 0 && !keep && original !== undefined && options.sender.replyToOriginalSender) {
    replyTo = [from ?? { address: original }];
  }

  const pass = new Set(options.passHeaders.map((h) => h.toLowerCase()));
  const headers: Record<string, string> = {};
  const copied = new Set<string>();
  for (const { key, line } of mail.headerLines) {
    const k = key.toLowerCase();
    if (NEVER_COPY.has(k) || k.startsWith('x-ms-')) continue;
    if (!k.startsWith('x-') && !pass.has(k)) continue;
    const value = rawValue(line);
    // ACS refuses empty header values; a repeated header keeps its first value (the map is 1:1).
    if (value === '' || copied.has(k)) continue;
    copied.add(k);
    headers[line.slice(0, line.indexOf(':')).trim()] = value;
  }

  const cids = new Set<string>();
  const contents = mail.attachments.map((a): AttachmentContent => spooled.get(a) ?? a.content);
  const attachments: AttachmentMeta[] = mail.attachments.map((a, i) => {
    const contentType = a.contentType || 'application/octet-stream';
    const att: AttachmentMeta = {
      name: a.filename || attachmentName(i, contentType),
      contentType,
    };
    // An inline part with a Content-ID is an embedded image the HTML refers to as cid:.
    // ACS refuses a request with a repeated contentId; the HTML can only mean the first anyway.
    if (a.cid && (a.related || a.contentDisposition === 'inline') && !cids.has(a.cid)) {
      cids.add(a.cid);
      att.contentId = a.cid;
    }
    return att;
  });

  const content: AcsEmailMessage['content'] = { subject: mail.subject ?? '' };
  if (mail.text !== undefined && mail.text !== '') content.plainText = mail.text;
  if (mail.html !== false && mail.html !== '') content.html = mail.html;
  if (content.plainText === undefined && content.html === undefined) content.plainText = '';

  const base: AcsTemplate['base'] = {
    senderAddress,
    content,
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(replyTo.length > 0 ? { replyTo } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    userEngagementTrackingDisabled: options.userEngagementTrackingDisabled,
  };
  return {
    base,
    contents,
    ...(keep || original === undefined ? {} : { rewrittenFrom: original }),
    headerTo: flatten(mail.to),
    headerCc: flatten(mail.cc),
  };
}

/**
 * The envelope decides who receives; headers only decide where a recipient is shown. Envelope
 * recipients absent from To/Cc (device Bcc) go to Bcc. Duplicates are sent once.
 */
export function placeRecipients(template: AcsTemplate, envelope: readonly string[]): PlacedRecipient[] {
  const find = (list: readonly AcsAddress[], r: string) => list.find((a) => lower(a.address) === r);
  const seen = new Set<string>();
  const out: PlacedRecipient[] = [];
  for (const rcpt of envelope) {
    const r = lower(rcpt);
    if (seen.has(r)) continue;
    seen.add(r);
    const inTo = find(template.headerTo, r);
    const inCc = inTo ? undefined : find(template.headerCc, r);
    const shown = inTo ?? inCc;
    out.push({
      kind: inTo ? 'to' : inCc ? 'cc' : 'bcc',
      address: rcpt,
      ...(shown?.displayName ? { displayName: shown.displayName } : {}),
    });
  }
  return out;
}

/**
 * The whole `EmailMessage` object of one chunk. `encode` gives each attachment's contentInBase64;
 * the default builds the real base64 string (tests, small messages), the streamed body (acs-body.ts)
 * puts a marker there instead.
 */
export function messageFor(
  template: AcsTemplate,
  recipients: readonly PlacedRecipient[],
  encode: (content: AttachmentContent, index: number) => string = (content) => {
    if (Buffer.isBuffer(content)) return content.toString('base64');
    throw new Error('acs-mime: a spooled attachment is copied only by the streamed body (acs-body.ts)');
  },
): AcsEmailMessage {
  const pick = (kind: RecipientKind): AcsAddress[] =>
    recipients
      .filter((r) => r.kind === kind)
      .map((r) =>
        r.displayName ? { address: r.address, displayName: r.displayName } : { address: r.address },
      );
  const cc = pick('cc');
  const bcc = pick('bcc');
  // `to` is required by the schema even when every recipient of a chunk is Bcc.
  const { attachments, ...rest } = template.base;
  return {
    ...rest,
    ...(attachments === undefined
      ? {}
      : {
          attachments: attachments.map((a, i) => ({
            name: a.name,
            contentType: a.contentType,
            contentInBase64: encode(template.contents[i]!, i),
            ...(a.contentId === undefined ? {} : { contentId: a.contentId }),
          })),
        }),
    recipients: { to: pick('to'), ...(cc.length > 0 ? { cc } : {}), ...(bcc.length > 0 ? { bcc } : {}) },
  };
}
