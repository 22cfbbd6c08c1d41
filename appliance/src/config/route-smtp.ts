// Config of an SMTP smarthost route. A preset fills host, port, TLS mode, limits and the XOAUTH2
// scope for the Microsoft endpoints (ACS SMTP, HVE, Exchange Online connector or Direct Send via the
// tenant MX, SMTP AUTH submission); explicit keys override it. delivery/smtp-presets.ts resolves the
// result and refuses unsafe or incomplete combinations at start.
import { z } from 'zod';
import { appCredential } from './app-credential.ts';
import { duration, name, port, size } from './fields.ts';

export const SMTP_PRESETS = [
  'generic',
  'acs',
  'hve',
  'exo-connector',
  'exo-direct-send',
  'exo-submission',
] as const;
export type SmtpPreset = (typeof SMTP_PRESETS)[number];

export const smtpAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('password'),
    username: z.string().min(1).max(512),
    /** Name of a credential holding the password (for ACS SMTP: the Entra app's client secret). */
    password: name,
    /** Force one mechanism; by default the best the server offers (PLAIN before LOGIN). */
    method: z.enum(['PLAIN', 'LOGIN']).optional(),
  }),
  z.strictObject({
    type: z.literal('xoauth2'),
    /** The mailbox (EXO) or SMTP username (ACS) the token authenticates as. */
    user: z.string().min(1).max(512),
    app: appCredential,
    /** Token scope; the preset's (outlook.office365.com or communication.azure.com) by default. */
    scope: z.string().optional(),
  }),
]);

export const smtpRouteFields = {
  type: z.literal('smtp'),
  preset: z.enum(SMTP_PRESETS).default('generic'),
  /** Smarthost name; for exo-* presets the tenant MX, e.g. contoso-com.mail.protection.outlook.com. */
  host: z.string().min(1).optional(),
  port: port.optional(),
  tls: z
    .strictObject({
      /** starttls: STARTTLS is required; implicit: TLS from the first byte (465); none: loopback only. */
      mode: z.enum(['starttls', 'implicit', 'none']).optional(),
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      /** PEM file of extra trusted CAs (a private smarthost); public CAs stay trusted. */
      ca: z.string().optional(),
      /** Name to verify the certificate against when it differs from host. */
      servername: z.string().optional(),
    })
    .prefault({}),
  auth: smtpAuth.default({ type: 'none' }),
  /** Name of a credential holding PEM certificate + key presented to the smarthost (EXO connector). */
  clientCertificate: name.optional(),
  /** Name sent in EHLO; the certificate connector matches the certificate, not this. */
  ehloName: z.string().optional(),
  /** Recipients per SMTP transaction; larger legs are split (preset default, else 100). */
  maxRecipientsPerMessage: z.number().int().min(1).max(1000).optional(),
  /** Messages above this are refused before connecting, fallback-eligible (preset default). */
  maxMessageSize: size.optional(),
  connectionTimeout: duration.default(30_000),
  greetingTimeout: duration.default(30_000),
  /** Idle time on an open connection, including waiting for the reply after DATA. */
  socketTimeout: duration.default(120_000),
};
