// Config of what the appliance tells people on its own: DSNs to senders of mail that cannot be
// delivered, operator alerts (mail and/or webhook), and remote syslog. schema.ts only imports the
// three schemas; ops/ reads the parsed values. Durations and sizes carry units.
import { z } from 'zod';
import { duration, emailAddress, name, port } from './fields.ts';

const webhookSchema = z.strictObject({
  /** Where alerts are POSTed. https, or http on loopback only. */
  url: z.url().refine((u) => {
    const { protocol, hostname } = new URL(u);
    return protocol === 'https:' || (protocol === 'http:' && /^(127\.|localhost$|\[::1\]$)/.test(hostname));
  }, 'must be an https URL (plain http only to a loopback address)'),
  /** json: relaykit's own body; teams: an Adaptive Card message (Workflows); slack: {"text": ...}. */
  format: z.enum(['json', 'teams', 'slack']).default('json'),
  /** A webhook that does not answer within this is abandoned (delivery never waits for it). */
  timeout: duration.default(5000),
});

const alertsSchema = z
  .strictObject({
    /** Operator addresses that get alert mail (through notices.route). */
    to: z.array(emailAddress).default([]),
    webhook: webhookSchema.optional(),
    /**
     * Alerts of one kind and route are grouped: the first goes out at once, then at most one summary
     * with counts per interval, and a "resolved" when the condition clears.
     */
    interval: duration.default(15 * 60_000),
    /** At most this many alerts (all kinds together) per interval; the rest fold into the next summary. */
    maxPerInterval: z.number().int().min(1).max(100).default(5),
    /** A route failing this long raises an alert. */
    routeFailingAfter: duration.default(10 * 60_000),
    /** Certificates and credentials expiring within this raise an alert and turn health amber. */
    expiryWarning: duration.default(30 * 86_400_000),
  })
  .prefault({});

export const noticesSchema = z
  .strictObject({
    /**
     * Route that carries DSNs and alert mail. Without it no DSN is sent (dead letters stay visible in
     * /status, metrics, logs and webhook alerts only).
     */
    route: name.optional(),
    /**
     * From: of notices. Through a Graph route this mailbox sends them (it needs Mail.Send); the
     * envelope sender is always null (<>), so a notice never gets a notice back.
     */
    from: emailAddress.optional(),
    dsn: z
      .strictObject({
        /** DSN to the envelope sender when a message is dead-lettered (needs notices.route). */
        enabled: z.boolean().default(true),
        /** One "delayed" DSN when a message is still queued this long after it arrived; "0s" turns it off. */
        delayAfter: duration.default(4 * 3_600_000),
      })
      .prefault({}),
    alerts: alertsSchema,
  })
  .prefault({});

export const syslogSchema = z.strictObject({
  host: z.string().min(1),
  port: port.refine((p) => p > 0, 'must be a port number 1-65535').default(6514),
  /** tcp: RFC 6587 octet counting in clear; tls: RFC 5425 (certificate verified). */
  transport: z.enum(['tcp', 'tls']).default('tls'),
  tls: z
    .strictObject({
      /** PEM file of extra trusted CAs for the collector's certificate. */
      ca: z.string().optional(),
      /** Name to verify the collector's certificate against when it differs from host. */
      servername: z.string().optional(),
    })
    .optional(),
  /** RFC 5424 facility number; 16 = local0. */
  facility: z.number().int().min(0).max(23).default(16),
  /** APP-NAME field. */
  appName: z
    .string()
    .regex(/^[!-~]{1,48}$/, 'printable ASCII without spaces, at most 48')
    .default('relaykit'),
  /** Lines buffered while the collector is unreachable; older ones are dropped (and counted). */
  bufferLines: z.number().int().min(10).max(100_000).default(5000),
});

export type NoticesConfig = z.output<typeof noticesSchema>;
export type SyslogConfig = z.output<typeof syslogSchema>;
