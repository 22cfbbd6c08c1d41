// Graph transport, the large-message path: a JSON draft with the leg's recipients, its attachments
// (direct JSON under 3 MB, upload sessions in <= 4 MB chunks streamed from the spool file, one chunk in
// memory at a time), then send. The body travels in the draft request itself, under the same ~4 MB
// ceiling (reference A3): a larger one is refused before any request (fallback-eligible) or, with
// oversizeBody: attach, sent as message.html / message.txt under a short note. A draft whose send failed is deleted unless Graph may already be
// sending it. Reads the spool file; talks to Graph only through GraphClient.
import type { Logger } from '../../log.ts';
import type { DeliveryOutcome } from '../transport.ts';
import { type Attempt, type GraphClient, GraphStepError } from './graph-client.ts';
import { classifyGraphFailure } from './graph-errors.ts';
import type { NamedAddress } from './graph-mime.ts';
import type { ScannedAttachment } from './graph-scan.ts';

/** Attachments below this go in one JSON request; from it on, an upload session (docs: "3 MB"). */
export const DIRECT_ATTACHMENT_LIMIT = 3_000_000;
/**
 * The docs say "3 MB" without saying which megabyte (reference A2/A3). From DIRECT_ATTACHMENT_LIMIT up
 * to 3 MiB an attachment tries an upload session and, if Graph answers that the file is under the
 * session minimum, goes as a direct attachment instead: either reading of "MB" delivers it.
 */
const SESSION_MINIMUM_UNSURE_BELOW = 3 * 1024 * 1024;
/** Upload chunk: under 4 MB however Graph counts a megabyte, and a multiple of 320 KiB. */
export const UPLOAD_CHUNK = 3_932_160;

export interface DraftOptions {
  readonly route: string;
  readonly rewriteFrom: boolean;
  readonly requestTimeout: number;
  readonly logger: Logger;
  /** Largest body (UTF-8 bytes) the draft request carries; only attachments may upload (A3). */
  readonly maxBodySize: number;
  /** A larger body: refuse (fallback-eligible) or send it as an attachment with a short note. */
  readonly oversizeBody: 'refuse' | 'attach';
}

/** The body too large for the draft request, carried as an attachment instead. */
interface BodyAttachment {
  readonly att: ScannedAttachment;
  readonly bytes: Buffer;
}

/**
 * The MIME scanner (graph-scan.ts: mailsplit, libmime and iconv-lite with its charset tables, ~3.5 MB
 * of RSS with mime-text.ts) is loaded by the first large message, not at start: most relays never
 * send one. test/appliance/image/bundle.test.ts imports every lazy chunk of the bundle.
 */
let scanner: Promise<typeof import('./graph-scan.ts')> | undefined;
const graphScan = () => {
  scanner ??= import('./graph-scan.ts');
  return scanner;
};

/** One buffer as the async iterable the attachment senders read. */
async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

function recipient(a: NamedAddress): { emailAddress: { address: string; name?: string } } {
  return { emailAddress: a.name ? { address: a.address, name: a.name } : { address: a.address } };
}

export class GraphDraftSender {
  private readonly client: GraphClient;
  private readonly o: DraftOptions;

  constructor(client: GraphClient, options: DraftOptions) {
    this.client = client;
    this.o = options;
  }

  async send(a: Attempt): Promise<DeliveryOutcome> {
    const { job } = a;
    const { scanMessage, eachAttachment } = await graphScan();
    const scan = await scanMessage(job.message);
    const leg = new Map(job.recipients.map((r) => [r.toLowerCase(), r]));
    const take = (list: readonly NamedAddress[], used: Set<string>) =>
      list.filter((x) => {
        const k = x.address.toLowerCase();
        if (!leg.has(k) || used.has(k)) return false;
        used.add(k);
        return true;
      });
    const used = new Set<string>();
    const to = take(scan.to, used);
    const cc = take(scan.cc, used);
    const named = new Map(scan.bcc.map((b) => [b.address.toLowerCase(), b]));
    const bcc = [...leg].filter(([k]) => !used.has(k)).map(([k, r]) => named.get(k) ?? { address: r });
    const from = this.o.rewriteFrom ? { address: a.mailbox } : scan.from;
    const replyTo =
      scan.replyTo.length > 0 ? scan.replyTo : this.o.rewriteFrom && scan.from ? [scan.from] : [];
    const content = scan.html ?? scan.text ?? '';
    const bodyBytes = Buffer.byteLength(content);
    let bodyAttachment: BodyAttachment | undefined;
    if (bodyBytes > this.o.maxBodySize) {
      if (this.o.oversizeBody !== 'attach') return this.bodyTooLarge(bodyBytes);
      const html = scan.html !== undefined;
      bodyAttachment = {
        bytes: Buffer.from(content),
        att: {
          index: -1,
          name: html ? 'message.html' : 'message.txt',
          contentType: html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
          size: bodyBytes,
          isInline: false,
        },
      };
    }
    const draft = {
      subject: scan.subject ?? '',
      body:
        bodyAttachment !== undefined
          ? {
              contentType: 'Text',
              content: `The body of this message (${bodyBytes} bytes) is larger than Microsoft Graph accepts in a message body, so it is attached as ${bodyAttachment.att.name}.`,
            }
          : scan.html !== undefined
            ? { contentType: 'HTML', content: scan.html }
            : { contentType: 'Text', content: scan.text ?? '' },
      toRecipients: to.map(recipient),
      ccRecipients: cc.map(recipient),
      bccRecipients: bcc.map(recipient),
      ...(from === undefined ? {} : { from: recipient(from) }),
      ...(replyTo.length > 0 ? { replyTo: replyTo.map(recipient) } : {}),
      ...(scan.importance === undefined ? {} : { importance: scan.importance }),
      ...(scan.xHeaders.length > 0 ? { internetMessageHeaders: scan.xHeaders } : {}),
    };
    const created = await this.client.request(a, 'createDraft', {
      method: 'POST',
      url: `${a.base}/messages`,
      body: JSON.stringify(draft),
      contentType: 'application/json',
      auth: true,
    });
    const id = (JSON.parse(created.text) as { id?: string }).id;
    if (typeof id !== 'string') throw new Error('Graph created a draft without an id');
    const messageUrl = `${a.base}/messages/${encodeURIComponent(id)}`;
    let uploaded = 0;
    const attach = async (att: ScannedAttachment, content: AsyncIterable<Buffer>) => {
      if (att.size < DIRECT_ATTACHMENT_LIMIT) {
        await this.attachDirect(a, messageUrl, att, content);
      } else if (att.size < SESSION_MINIMUM_UNSURE_BELOW) {
        const bytes: Buffer[] = [];
        for await (const c of content) bytes.push(Buffer.from(c));
        try {
          await this.upload(a, messageUrl, att, bytes);
          uploaded += 1;
        } catch (err) {
          const tooSmall =
            err instanceof GraphStepError &&
            err.facts.serviceCode === 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize';
          if (!tooSmall) throw err;
          await this.attachDirect(a, messageUrl, att, bytes);
        }
      } else {
        await this.upload(a, messageUrl, att, content);
        uploaded += 1;
      }
    };
    try {
      if (bodyAttachment !== undefined) await attach(bodyAttachment.att, once(bodyAttachment.bytes));
      await eachAttachment(job.message, async (content, index) => {
        const att = scan.attachments[index];
        if (att === undefined) throw new Error('the message changed between the two parsing passes');
        await attach(att, content);
      });
      await a.limiter.messageTurn(a.signal);
      await this.client.request(a, 'send', {
        method: 'POST',
        url: `${messageUrl}/send`,
        body: '',
        auth: true,
        duplicateRisk: true,
      });
    } catch (err) {
      // A draft that may already be on its way must stay; any other is removed so none pile up.
      if (!(err instanceof GraphStepError && classifyGraphFailure(err.facts).possibleDuplicate))
        await this.deleteDraft(a, messageUrl);
      throw err;
    }
    const asAttachment =
      bodyAttachment === undefined ? '' : `; body (${bodyBytes} bytes) as ${bodyAttachment.att.name}`;
    return {
      kind: 'delivered',
      detail: `Graph draft sent (202) as ${a.mailbox}: ${scan.attachments.length} attachment(s), ${uploaded} by upload session; ${bcc.length} Bcc${asAttachment}`,
      remoteId: id,
    };
  }

  /** Before any request: the body cannot travel in a draft, and this route does not attach it. */
  private bodyTooLarge(bytes: number): DeliveryOutcome {
    return {
      kind: 'permanent',
      code: 'RELAY_GRAPH_BODY_TOO_LARGE',
      reason: `the message body is ${bytes} bytes; a Graph draft request carries at most ${this.o.maxBodySize} (maxBodySize: the ~4 MB request limit; only attachments may use upload sessions)`,
      hint: 'give the route a fallback that takes large bodies (ACS up to 10 MB, an SMTP smarthost), or set oversizeBody: attach to send the body as an attachment',
      fallbackEligible: true,
    };
  }

  private async attachDirect(
    a: Attempt,
    messageUrl: string,
    att: ScannedAttachment,
    content: AsyncIterable<Buffer> | Iterable<Buffer>,
  ) {
    const chunks: Buffer[] = [];
    for await (const c of content) chunks.push(Buffer.from(c));
    await this.client.request(a, 'attachment', {
      method: 'POST',
      url: `${messageUrl}/attachments`,
      body: JSON.stringify({
        '@odata.type': '#microsoft.graph.fileAttachment',
        name: att.name,
        contentType: att.contentType,
        contentBytes: Buffer.concat(chunks).toString('base64'),
        ...(att.isInline ? { isInline: true } : {}),
        ...(att.contentId === undefined ? {} : { contentId: att.contentId }),
      }),
      contentType: 'application/json',
      auth: true,
    });
  }

  /** Streams one attachment into an upload session, one <= 4 MB chunk in memory at a time. */
  private async upload(
    a: Attempt,
    messageUrl: string,
    att: ScannedAttachment,
    content: AsyncIterable<Buffer> | Iterable<Buffer>,
  ) {
    const session = await this.client.request(a, 'createUploadSession', {
      method: 'POST',
      url: `${messageUrl}/attachments/createUploadSession`,
      body: JSON.stringify({
        AttachmentItem: {
          attachmentType: 'file',
          name: att.name,
          size: att.size,
          contentType: att.contentType,
          ...(att.isInline ? { isInline: true } : {}),
          ...(att.contentId === undefined ? {} : { contentId: att.contentId }),
        },
      }),
      contentType: 'application/json',
      auth: true,
    });
    const uploadUrl = (JSON.parse(session.text) as { uploadUrl?: string }).uploadUrl;
    if (typeof uploadUrl !== 'string')
      throw new Error('Graph created an upload session without an uploadUrl');
    const buf = Buffer.allocUnsafe(UPLOAD_CHUNK);
    let fill = 0;
    let offset = 0;
    const put = async () => {
      await this.client.request(a, 'uploadChunk', {
        method: 'PUT',
        url: uploadUrl,
        body: buf.subarray(0, fill),
        contentType: 'application/octet-stream',
        headers: { 'content-range': `bytes ${offset}-${offset + fill - 1}/${att.size}` },
        auth: false,
      });
      offset += fill;
      fill = 0;
    };
    for await (const chunk of content) {
      let pos = 0;
      while (pos < chunk.length) {
        const n = Math.min(UPLOAD_CHUNK - fill, chunk.length - pos);
        chunk.copy(buf, fill, pos, pos + n);
        fill += n;
        pos += n;
        if (fill === UPLOAD_CHUNK) await put();
      }
    }
    if (fill > 0) await put();
    if (offset !== att.size)
      throw new Error(`attachment ${att.name}: uploaded ${offset} bytes, scanned ${att.size}`);
  }

  private async deleteDraft(a: Attempt, messageUrl: string): Promise<void> {
    try {
      await this.client.request(
        { ...a, signal: AbortSignal.timeout(this.o.requestTimeout) },
        'deleteMessage',
        {
          method: 'DELETE',
          url: messageUrl,
          auth: true,
        },
      );
    } catch (err) {
      this.o.logger.warn(
        { err, route: this.o.route, id: a.job.id },
        'could not delete the Graph draft of a failed send',
      );
    }
  }
}
