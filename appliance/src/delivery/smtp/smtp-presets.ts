// Named smarthost presets and their resolution: a route's explicit keys over its preset's defaults,
// checked once at start so a bad combination (AUTH over clear text, AUTH against a tenant MX, no
// host) fails with the key named instead of at the first delivery. Pure.

import {
  SMTP_PRESET_HOSTS,
  SMTP_PRESET_LIMITS,
  type SmtpPreset,
  smtpRouteIssues,
} from '../../config/route-smtp.ts';
import type { RouteConfig } from '../../config/schema.ts';
import { RelayError } from '../../errors.ts';

export type SmtpRouteConfig = Extract<RouteConfig, { type: 'smtp' }>;
export type TlsMode = 'starttls' | 'implicit' | 'none';

export const OUTLOOK_SCOPE = 'https://outlook.office365.com/.default';
export const COMMUNICATION_SCOPE = 'https://communication.azure.com/.default';

interface PresetDefaults {
  readonly host?: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly scope: string;
  /** The tenant MX takes no AUTH: identity is the connector (IP or certificate) or the domain. */
  readonly noAuth?: boolean;
  readonly note: string;
}

export const SMTP_PRESET_DEFAULTS: Readonly<Record<SmtpPreset, PresetDefaults>> = {
  generic: { port: 587, tls: 'starttls', scope: OUTLOOK_SCOPE, note: 'any smarthost' },
  acs: {
    host: SMTP_PRESET_HOSTS.acs,
    port: 587,
    tls: 'starttls',
    scope: COMMUNICATION_SCOPE,
    note: 'ACS SMTP: SMTP username + Entra app secret (password) or XOAUTH2',
  },
  hve: {
    host: SMTP_PRESET_HOSTS.hve,
    port: 587,
    tls: 'starttls',
    scope: OUTLOOK_SCOPE,
    note: 'Exchange High Volume Email: internal recipients only',
  },
  'exo-connector': {
    port: 25,
    tls: 'starttls',
    scope: OUTLOOK_SCOPE,
    noAuth: true,
    note: 'tenant MX through an inbound connector (by IP or by client certificate)',
  },
  'exo-direct-send': {
    port: 25,
    tls: 'starttls',
    scope: OUTLOOK_SCOPE,
    noAuth: true,
    note: 'Direct Send to the tenant MX: internal recipients only, refused under RejectDirectSend',
  },
  'exo-submission': {
    host: SMTP_PRESET_HOSTS['exo-submission'],
    port: 587,
    tls: 'starttls',
    scope: OUTLOOK_SCOPE,
    note: 'SMTP AUTH client submission; use XOAUTH2 with SMTP.SendAsApp',
  },
};

export interface ResolvedSmtp {
  readonly preset: SmtpPreset;
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly ca?: string;
  readonly servername?: string;
  readonly auth: SmtpRouteConfig['auth'];
  readonly scope: string;
  readonly clientCertificate?: string;
  readonly ehloName?: string;
  readonly maxRecipients: number;
  readonly maxMessageSize?: number;
  readonly connectionTimeout: number;
  readonly greetingTimeout: number;
  readonly socketTimeout: number;
}

function bad(route: string, key: string, message: string): RelayError {
  return new RelayError('RELAY_CONFIG_INVALID', `routes.${route}.${key}: ${message}`);
}

export function resolveSmtpRoute(route: SmtpRouteConfig): ResolvedSmtp {
  const issue = smtpRouteIssues(route)[0];
  if (issue !== undefined) throw bad(route.name, issue.path.join('.'), issue.message);
  const p = { ...SMTP_PRESET_DEFAULTS[route.preset], ...SMTP_PRESET_LIMITS[route.preset] };
  const host = (route.host ?? p.host)!;
  const tls = route.tls.mode ?? (route.port === 465 ? 'implicit' : p.tls);
  return {
    preset: route.preset,
    host,
    port: route.port ?? (tls === 'implicit' ? 465 : p.port),
    tls,
    minVersion: route.tls.minVersion,
    ...(route.tls.ca === undefined ? {} : { ca: route.tls.ca }),
    ...(route.tls.servername === undefined ? {} : { servername: route.tls.servername }),
    auth: route.auth,
    scope: route.auth.type === 'xoauth2' && route.auth.scope !== undefined ? route.auth.scope : p.scope,
    ...(route.clientCertificate === undefined ? {} : { clientCertificate: route.clientCertificate }),
    ...(route.ehloName === undefined ? {} : { ehloName: route.ehloName }),
    maxRecipients: route.maxRecipientsPerMessage ?? p.maxRecipients,
    connectionTimeout: route.connectionTimeout,
    greetingTimeout: route.greetingTimeout,
    socketTimeout: route.socketTimeout,
    ...((route.maxMessageSize ?? p.maxMessageSize) === undefined
      ? {}
      : { maxMessageSize: (route.maxMessageSize ?? p.maxMessageSize)! }),
  };
}
