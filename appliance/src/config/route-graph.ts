// Config of a Microsoft Graph route (issue 4). Which app in which tenant sends, how it proves itself
// (a credential name from `credentials:`), which mailbox sends, and the per-mailbox pacing that keeps
// the route under Outlook's limits (4 concurrent requests per app+mailbox; 30 messages a minute).
import { z } from 'zod';
import { duration, emailAddress, name, size } from './fields.ts';

export const graphRouteFields = {
  type: z.literal('graph'),
  /** Directory (tenant) id or verified domain of the client's tenant; never "common". */
  tenantId: z
    .string()
    .min(1)
    .refine((t) => !['common', 'organizations', 'consumers'].includes(t.toLowerCase()), {
      message: 'use the tenant id or domain; client credentials need a specific tenant',
    }),
  /** Application (client) id of the Entra app registration. */
  clientId: z.string().min(1),
  /** Credential name holding the client secret (exactly one of clientSecret / clientCertificate). */
  clientSecret: name.optional(),
  /** Credential name holding a PEM certificate and its private key (preferred over a secret). */
  clientCertificate: name.optional(),
  /**
   * Send every message through this one mailbox instead of the envelope sender (devices that cannot
   * set a real From). A per-identity or rule `sendAs` still wins.
   */
  mailbox: emailAddress.optional(),
  /** Replace the From: header with the sending mailbox (the old From becomes Reply-To if none). */
  rewriteFrom: z.boolean().default(false),
  /** Requests in flight at once per (app, mailbox); Outlook allows 4. */
  mailboxConcurrency: z.number().int().min(1).max(4).default(4),
  /** Messages per minute per mailbox (Exchange Online's sending limit is 30). */
  messagesPerMinute: z.number().int().min(1).max(10_000).default(30),
  /**
   * Raw messages up to this size go in one MIME sendMail request (base64 adds a third; Graph
   * refuses requests over 4 MB). Larger ones take the draft + upload path.
   */
  sendMailMaxSize: size.default(2_621_440),
  /** Use draft + attachments + upload sessions for large messages (needs Mail.ReadWrite). */
  largeMessages: z.boolean().default(true),
  /** Refuse larger messages without trying (Graph's upload path stops at 150 MB). */
  maxMessageSize: size.default(157_286_400),
  /**
   * Largest message body (the text or HTML that goes into the draft request, decoded) Graph can take:
   * the draft request has the same ~4 MB ceiling as any request and only attachments may use upload
   * sessions (reference A3). Intake answers 552 before 250 when no route of the plan can carry more.
   */
  maxBodySize: size.default(3_145_728),
  /**
   * A body over maxBodySize: `refuse` (another route of the plan, or 552 at intake), or `attach`
   * (send it as an attachment, message.html / message.txt, with a short body saying so).
   */
  oversizeBody: z.enum(['refuse', 'attach']).default('refuse'),
  /** Recipients (To + Cc + Bcc) one Graph message may carry (Exchange Online: 500). */
  maxRecipientsPerMessage: z.number().int().min(1).max(1000).default(500),
  /** Timeout of each Graph request (one upload chunk counts as one request). */
  requestTimeout: duration.default(120_000),
  /** Longest Retry-After honoured inside one attempt; longer waits end the attempt as transient. */
  maxRetryAfter: duration.default(120_000),
};
