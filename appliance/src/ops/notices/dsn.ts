// Delivery status notifications (RFC 3464) as pure text: multipart/report; report-type=delivery-status
// with a human explanation, the message/delivery-status part (Reporting-MTA, Arrival-Date, then per
// recipient Final-Recipient, Action, Status, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until
// for "delayed") and the original headers as text/rfc822-headers (RFC 6522). And the loop rules
// (RFC 3834, RFC 5321 §6.1): never for the null sender, Auto-Submitted mail or another report.
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../../errors.ts';

export interface DsnRecipient {
  readonly recipient: string;
  readonly status: string;
  readonly diagnostic: string;
  readonly lastAttemptAt?: number;
}

export interface DsnInput {
  readonly action: 'failed' | 'delayed';
  /** The appliance's host name (Reporting-MTA, Message-ID domain). */
  readonly reportingMta: string;
  readonly from: string;
  /** The original envelope sender. */
  readonly to: string;
  readonly arrivalDate: number;
  readonly recipients: readonly DsnRecipient[];
  /** The original header block (everything before the first empty line). */
  readonly originalHeaders: string;
  readonly originalSubject?: string;
  readonly originalMessageId?: string;
  readonly willRetryUntil?: number;
  readonly now: number;
}

/** RFC 5322 date, e.g. "Thu, 03 Dec 2026 07:00:00 +0000". */
export function mailDate(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/** RFC 3463 status for a dead or deferred leg: from the remote's enhanced code, else from our code. */
export function statusFor(action: 'failed' | 'delayed', code: ErrorCode | undefined, reason: string): string {
  const remote = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reason);
  const cls = action === 'failed' ? '5' : '4';
  if (remote) return `${cls}.${remote[2]}.${remote[3]}`;
  const by: Partial<Record<ErrorCode, string>> = {
    RELAY_DELIVERY_EXPIRED: '4.7',
    RELAY_MESSAGE_TOO_LARGE: '3.4',
    RELAY_GRAPH_MESSAGE_TOO_LARGE: '3.4',
    RELAY_ACS_TOO_LARGE: '3.4',
    RELAY_SMTP_TOO_LARGE: '3.4',
    RELAY_GRAPH_SEND_AS_DENIED: '7.1',
    RELAY_ACS_SENDER_NOT_ALLOWED: '7.1',
    RELAY_GRAPH_ACCESS_DENIED: '7.0',
    RELAY_NETWORK: '4.1',
    RELAY_TIMEOUT: '4.1',
  };
  return `${cls}.${(code && by[code]) ?? '0.0'}`;
}

/** Why a message gets no DSN, or undefined when it may get one. */
export function noDsnReason(mailFrom: string, headers: string): string | undefined {
  if (mailFrom === '') return 'null sender';
  const auto = /^auto-submitted:[ \t]*([^\r\n;]+)/im.exec(headers)?.[1]?.trim().toLowerCase();
  if (auto !== undefined && auto !== 'no') return `Auto-Submitted: ${auto}`;
  if (/^content-type:[ \t]*multipart\/report/im.test(headers)) return 'it is itself a report';
  if (/^(x-failed-recipients|x-relaykit-notice):/im.test(headers)) return 'it is itself a notice';
  return undefined;
}

/** The header block of a raw message (up to, not including, the first empty line), CRLF lines. */
export function headerBlock(raw: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  return (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n/g, '\r\n');
}

function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 900);
}

export function renderDsn(d: DsnInput): string {
  const boundary = `=_relaykit_${randomBytes(12).toString('hex')}`;
  const failed = d.action === 'failed';
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const about = d.originalSubject ? ` "${clean(d.originalSubject)}"` : '';
  const human = [
    `This is the mail relay at ${d.reportingMta}.`,
    '',
    failed
      ? `Your message${about} could not be delivered to the recipient(s) below. It will not be retried.`
      : `Your message${about} has not been delivered yet. The relay keeps trying${d.willRetryUntil ? ` until ${mailDate(d.willRetryUntil)}` : ''}; you do not need to send it again.`,
    '',
    ...d.recipients.map((r) => `  <${r.recipient}>: ${clean(r.diagnostic)}`),
    '',
  ];
  const perMessage = [`Reporting-MTA: dns; ${d.reportingMta}`, `Arrival-Date: ${mailDate(d.arrivalDate)}`];
  const perRecipient = d.recipients.map((r) =>
    [
      `Final-Recipient: rfc822; ${r.recipient}`,
      `Action: ${d.action}`,
      `Status: ${r.status}`,
      `Diagnostic-Code: X-relaykit; ${clean(r.diagnostic)}`,
      ...(r.lastAttemptAt === undefined ? [] : [`Last-Attempt-Date: ${mailDate(r.lastAttemptAt)}`]),
      ...(d.willRetryUntil === undefined || failed
        ? []
        : [`Will-Retry-Until: ${mailDate(d.willRetryUntil)}`]),
    ].join('\r\n'),
  );
  const lines = [
    `From: Mail Delivery System <${d.from}>`,
    `To: <${d.to}>`,
    `Subject: ${subject}`,
    `Date: ${mailDate(d.now)}`,
    `Message-ID: <${randomBytes(10).toString('hex')}.dsn@${d.reportingMta}>`,
    ...(d.originalMessageId
      ? [`In-Reply-To: ${clean(d.originalMessageId)}`, `References: ${clean(d.originalMessageId)}`]
      : []),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    perMessage.join('\r\n'),
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    d.originalHeaders,
    '',
    `--${boundary}--`,
    '',
  ];
  return lines.join('\r\n');
}
