// Config of device identities (issue 3 owns it): how a connection becomes an identity (network,
// verified client certificate, AUTH user) and the sending policy each identity carries. schema.ts
// imports `identitySchema`; receiver/access.ts and receiver/policy.ts read the result.
import { z } from 'zod';
import { cidr, emailAddress, name, size } from './fields.ts';

export const userSchema = z.strictObject({
  username: z.string().min(1).max(256),
  /** scrypt hash from `relaykit-appliance hash-password`; never the password itself. */
  passwordHash: z.string().regex(/^scrypt\$/, 'must be a hash made by `relaykit-appliance hash-password`'),
});

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** One certificate match; every field given must hold. Only certificates that verified count. */
export const certificateMatchSchema = z
  .strictObject({
    /** Subject common name, exact (case-insensitive). */
    subject: z.string().min(1).max(256).optional(),
    /** A subjectAltName entry: "DNS:printer-042.lan", "email:mfp@contoso.com", or the bare value. */
    san: z.string().min(1).max(256).optional(),
    /** SHA-256 fingerprint, "AB:CD:…" (32 bytes); pins one provisioned device. */
    fingerprint: z
      .string()
      .transform((s) => s.toUpperCase())
      .refine((s) => FINGERPRINT.test(s), 'must be a SHA-256 fingerprint like AB:CD:… (32 hex pairs)')
      .optional(),
  })
  .refine(
    (m) => m.subject !== undefined || m.san !== undefined || m.fingerprint !== undefined,
    'give at least one of subject, san, fingerprint',
  );

/**
 * Allowed MAIL FROM entries: "scanner@contoso.com" (exact), "@contoso.com" or "contoso.com" (any
 * address at that domain), "*@*.contoso.com" / "scan-*@contoso.com" (glob: * is any run of
 * characters but "@"), "<>" (the null sender).
 */
export const senderPattern = z
  .string()
  .min(1)
  .max(320)
  .refine(
    (s) => s === '<>' || /^[^\s<>]+$/.test(s),
    'must be an address, @domain, domain, a * pattern or <> (no spaces or angle brackets)',
  );

export const recipientDomain = z
  .string()
  .regex(
    /^(\*\.)?([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$/i,
    'must be a domain such as contoso.com, or *.contoso.com for its subdomains',
  );

export const identitySchema = z.strictObject({
  name,
  /** Devices connecting from these addresses/ranges are this identity without AUTH. */
  networks: z.array(cidr).default([]),
  /** SMTP AUTH users that log in as this identity. */
  users: z.array(userSchema).default([]),
  /** Verified client certificates that are this identity, no password needed. */
  certificates: z.array(certificateMatchSchema).default([]),
  /** MAIL FROM this identity may use. Empty: any. */
  allowedSenders: z.array(senderPattern).default([]),
  /**
   * Rewrite the envelope sender and the From: address to this one, keeping the display name (for
   * devices that can only send as scanner@local). Checked against allowedSenders before rewriting.
   */
  rewriteSender: emailAddress.optional(),
  /** Recipient domains this identity may send to. Empty: any. */
  allowedRecipientDomains: z.array(recipientDomain).default([]),
  /** Per-identity cap, below the listener's. Default: the listener's maxMessageSize. */
  maxMessageSize: size.optional(),
  /** Per-identity cap on RCPTs per message. Default: the listener's maxRecipients. */
  maxRecipients: z.number().int().min(1).optional(),
  /** Messages per minute; over it MAIL FROM gets 451 4.7.1 (the device retries; nothing is lost). */
  ratePerMinute: z.number().int().min(1).optional(),
  /**
   * Mailbox Graph sends as for this identity's mail (send-as-one-mailbox for devices that cannot set
   * a real From). A routing rule's sendAs wins over it; a route's fixed mailbox yields to both.
   */
  sendAs: emailAddress.optional(),
});

export type IdentityInput = z.input<typeof identitySchema>;
export type IdentityConfig = z.output<typeof identitySchema>;
export type CertificateMatch = z.output<typeof certificateMatchSchema>;
