// Config of an SMTP smarthost route. A preset fills host, port, TLS mode, limits and the XOAUTH2
// scope for the Microsoft endpoints (ACS SMTP, HVE, Exchange Online connector or Direct Send via the
// tenant MX, SMTP AUTH submission); explicit keys override it. delivery/smtp/smtp-presets.ts resolves
// the result and refuses unsafe or incomplete combinations at start.
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

export interface RouteIssue {
  /** Key path inside the route, e.g. ['tls', 'mode']. */
  readonly path: readonly string[];
  readonly message: string;
}

/** Presets with a fixed host; the others (generic, tenant MX) need `host`. */
export const SMTP_PRESET_HOSTS: Readonly<Partial<Record<SmtpPreset, string>>> = {
  acs: 'smtp.azurecomm.net',
  hve: 'smtp-hve.office365.com',
  'exo-submission': 'smtp.office365.com',
};

const MB = 1024 * 1024;

/**
 * What each preset's server takes per message (ACS and HVE: 10 MB and 50 recipients, reference B4/C3;
 * Exchange: 100 recipients per transaction, the mailbox's MaxSendSize unknown here). Read by the
 * transport and by intake's "can this plan carry it" check (routing/capacity.ts).
 */
export const SMTP_PRESET_LIMITS: Readonly<
  Record<SmtpPreset, { readonly maxRecipients: number; readonly maxMessageSize?: number }>
> = {
  generic: { maxRecipients: 100 },
  acs: { maxRecipients: 50, maxMessageSize: 10 * MB },
  hve: { maxRecipients: 50, maxMessageSize: 10 * MB },
  'exo-connector': { maxRecipients: 100 },
  'exo-direct-send': { maxRecipients: 100 },
  'exo-submission': { maxRecipients: 100 },
};

/** Presets that deliver to the tenant MX, which takes no AUTH. */
const TENANT_MX_PRESETS: readonly SmtpPreset[] = ['exo-connector', 'exo-direct-send'];

function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);
}

type SmtpRouteInput = {
  preset: SmtpPreset;
  host?: string | undefined;
  port?: number | undefined;
  tls: { mode?: 'starttls' | 'implicit' | 'none' | undefined };
  auth: { type: 'none' | 'password' | 'xoauth2' };
  clientCertificate?: string | undefined;
};

/**
 * Combinations the schema alone cannot refuse: no host, clear text beyond loopback, AUTH without
 * TLS or against the tenant MX, a certificate with Direct Send. Checked by the config schema (so
 * `check` names the key) and again when the transport resolves its settings.
 */
export function smtpRouteIssues(route: SmtpRouteInput): RouteIssue[] {
  const issues: RouteIssue[] = [];
  const host = route.host ?? SMTP_PRESET_HOSTS[route.preset];
  const mx = TENANT_MX_PRESETS.includes(route.preset);
  if (host === undefined) {
    const what = mx
      ? "the tenant's MX host, e.g. contoso-com.mail.protection.outlook.com"
      : 'the smarthost name';
    issues.push({ path: ['host'], message: `required for preset ${route.preset}: ${what}` });
  }
  const tls = route.tls.mode ?? (route.port === 465 ? 'implicit' : 'starttls');
  if (tls === 'none' && host !== undefined && !isLoopbackHost(host)) {
    issues.push({
      path: ['tls', 'mode'],
      message:
        'none is only allowed for a loopback smarthost; mail and AUTH would cross the network in clear text',
    });
  }
  if (tls === 'none' && route.auth.type !== 'none') {
    issues.push({ path: ['auth'], message: 'AUTH needs TLS (tls.mode starttls or implicit)' });
  }
  if (mx && route.auth.type !== 'none') {
    issues.push({
      path: ['auth'],
      message: `preset ${route.preset} delivers to the tenant MX, which takes no AUTH; use clientCertificate or an IP connector`,
    });
  }
  if (route.preset === 'exo-direct-send' && route.clientCertificate !== undefined) {
    issues.push({
      path: ['clientCertificate'],
      message: 'Direct Send presents no certificate; use preset exo-connector',
    });
  }
  if (route.clientCertificate !== undefined && tls === 'none') {
    issues.push({ path: ['clientCertificate'], message: 'a client certificate needs TLS' });
  }
  return issues;
}
