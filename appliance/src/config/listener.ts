// Config of SMTP listeners (issue 3 owns it): address, TLS policy (versions, ciphers, client
// certificates), AUTH exposure, limits, abuse controls and content hygiene. schema.ts only imports
// `listenerSchema`; receiver/tls.ts turns `tls` into Node TLS options.
import { z } from 'zod';
import { cidr, duration, ipAddress, name, port, size } from './fields.ts';

/** TLS versions in order; below TLSv1.2 is "legacy" and needs an explicit opt-in. */
export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export function isLegacyTls(v: TlsVersion): boolean {
  return v === 'TLSv1' || v === 'TLSv1.1';
}

const clientCertificatesSchema = z.strictObject({
  /** PEM bundle of the CA(s) that sign device certificates. */
  ca: z.string().min(1),
  /**
   * true: every client must present a certificate that verifies against `ca` (mutual TLS); no
   * password logins on this listener. false: a certificate is requested, password AUTH stays possible.
   */
  required: z.boolean().default(false),
});

const tlsSchema = z
  .strictObject({
    /** none: plain only; starttls: plain with STARTTLS offered; implicit: TLS from the first byte. */
    mode: z.enum(['none', 'starttls', 'implicit']).default('none'),
    /** PEM certificate chain file. Required unless mode is none; never smtp-server's built-in one. */
    cert: z.string().optional(),
    /** PEM private key file. */
    key: z.string().optional(),
    /**
     * Lowest TLS version accepted. TLSv1 / TLSv1.1 are for legacy devices only, need OpenSSL security
     * level 0 in `ciphers` (added automatically when `ciphers` is not set) and log a warning at start.
     */
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2'),
    /** OpenSSL cipher list for TLS ≤ 1.2. Default: a modern ECDHE+AEAD list (legacy listener: that list, then HIGH at security level 0). */
    ciphers: z.string().min(1).optional(),
    /** Request client certificates and map verified ones to identities. */
    clientCertificates: clientCertificatesSchema.optional(),
    /** Re-read cert, key and CA when the files change (SIGHUP always reloads). */
    watch: z.boolean().default(true),
  })
  .superRefine((tls, ctx) => {
    if (tls.mode === 'none') {
      if (tls.clientCertificates) {
        ctx.issues.push({
          code: 'custom',
          path: ['clientCertificates'],
          message: 'client certificates need TLS (mode starttls or implicit)',
          input: tls,
        });
      }
      return;
    }
    for (const key of ['cert', 'key'] as const) {
      if (!tls[key]) {
        ctx.issues.push({
          code: 'custom',
          path: [key],
          message: `required when tls.mode is ${tls.mode}`,
          input: tls,
        });
      }
    }
    if (isLegacyTls(tls.minVersion) && tls.ciphers !== undefined && !/@SECLEVEL=0/i.test(tls.ciphers)) {
      ctx.issues.push({
        code: 'custom',
        path: ['ciphers'],
        message: `minVersion ${tls.minVersion} needs "@SECLEVEL=0" in the cipher list (OpenSSL 3 refuses TLS 1.0/1.1 otherwise)`,
        input: tls.ciphers,
      });
    }
  })
  .prefault({});

const authFailuresSchema = z
  .strictObject({
    /** Failed AUTH attempts per source IP (across connections) before it is blocked. */
    limit: z.number().int().min(1).max(1000).default(5),
    /** Failures older than this are forgotten. */
    window: duration.default(15 * 60_000),
    /** How long a blocked address gets 421 for every connection and AUTH. */
    block: duration.default(15 * 60_000),
    /** Delay before each failed AUTH is answered (slows guessing on one connection). */
    delay: duration.default(1000),
  })
  .prefault({});

const contentSchema = z
  .strictObject({
    /**
     * Bare CR or bare LF inside DATA. normalize: rewritten to CRLF before spooling, so no downstream
     * hop can be smuggled; reject: 550 5.5.2 (like Postfix smtpd_forbid_bare_newline).
     */
    bareLineEndings: z.enum(['normalize', 'reject']).default('normalize'),
    /** Largest header block (everything before the first empty line); over it → 552 5.3.4. */
    maxHeaderSize: size.default(100 * 1024),
    /** Longest line anywhere in the message, without CRLF; over it → 550 5.6.0. */
    maxLineLength: size.default(16 * 1024),
    /** Add Date:, Message-ID: and From: when a message lacks them (as MTAs do) instead of rejecting. */
    addMissingHeaders: z.boolean().default(true),
  })
  .prefault({});

/**
 * PROXY protocol v1/v2 (haproxy.org proxy-protocol.txt) for listeners behind a load balancer that
 * does not keep client addresses: the carried source address is the one the allowlist, abuse
 * controls and logs see. Only `trustedSources` may send it and must send it.
 */
const proxyProtocolSchema = z.strictObject({
  /** Load balancer addresses/ranges (CIDR). A header from anyone else, or none from these, is refused. */
  trustedSources: z.array(cidr).min(1),
  /** How long a trusted source has to send the complete header after connecting. */
  headerTimeout: duration.default(10_000),
});

export const listenerSchema = z.strictObject({
  name,
  address: ipAddress.default('127.0.0.1'),
  port,
  tls: tlsSchema,
  /** Offer SMTP AUTH (PLAIN, LOGIN) on this listener (only once TLS is up, unless allowCleartextAuth). */
  auth: z.boolean().default(true),
  /**
   * Allow AUTH without TLS. Only for loopback or a trusted management network: passwords would
   * cross the wire in clear text. `check` warns when the address is not loopback.
   */
  allowCleartextAuth: z.boolean().default(false),
  maxMessageSize: size.default(36_700_160),
  maxClients: z.number().int().min(1).default(100),
  maxRecipients: z.number().int().min(1).default(100),
  /** Idle time before the connection is closed with 421. */
  socketTimeout: duration.default(60_000),
  /** Total time a connection may last, however busy (a client trickling bytes is cut off). */
  sessionTimeout: duration.default(10 * 60_000),
  /** Unrecognised commands before 421 and close (smtp-server itself stops at 10). */
  maxUnknownCommands: z.number().int().min(1).max(10).default(5),
  authFailures: authFailuresSchema,
  content: contentSchema,
  /** Opt-in PROXY protocol; absent: connections are taken at their socket address. */
  proxyProtocol: proxyProtocolSchema.optional(),
});

export type ListenerInput = z.input<typeof listenerSchema>;
export type ListenerConfig = z.output<typeof listenerSchema>;
