// infra/ room: the only place that reads stack configuration. Keys are declared (type, description,
// default, secret) in Pulumi.yaml; this module parses the raw strings Pulumi hands over, applies the
// same defaults, validates everything at once and fails with messages that name each bad key.
// `parseTenantConfig` is pure (tests call it with plain maps); `loadTenantConfig` wraps pulumi.Config.
import { isIP } from 'node:net';
import * as pulumi from '@pulumi/pulumi';
import { CUSTOMER_CODE } from './naming.ts';

export const CONFIG_NAMESPACE = 'relaykit';

export const MAILBOX_SCOPING = ['rbac-for-applications', 'application-access-policy', 'tenant-wide'] as const;
export type MailboxScoping = (typeof MAILBOX_SCOPING)[number];
export const MAIL_CREDENTIALS = ['certificate', 'secret'] as const;
export type MailCredential = (typeof MAIL_CREDENTIALS)[number];
export const DOMAIN_MANAGEMENT = ['customer-managed', 'azure-managed'] as const;
export type DomainManagementMode = (typeof DOMAIN_MANAGEMENT)[number];
export const APEX_TXT_MODES = ['manual', 'create', 'adopt', 'merge'] as const;
export type ApexTxtMode = (typeof APEX_TXT_MODES)[number];
export const CONNECTOR_MODES = ['none', 'ip', 'certificate'] as const;
export type ConnectorMode = (typeof CONNECTOR_MODES)[number];
export const VAULT_NETWORK = ['sites-only', 'public'] as const;
export type VaultNetwork = (typeof VAULT_NETWORK)[number];
export const ROUTE_KINDS = ['graph', 'acs', 'hve'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

/**
 * ACS data locations (azurerm communication_service docs; the same strings the ARM API takes).
 * The policy pack narrows this further with its own allow-list.
 */
export const ACS_DATA_LOCATIONS = [
  'Africa',
  'Asia Pacific',
  'Australia',
  'Brazil',
  'Canada',
  'Europe',
  'France',
  'Germany',
  'India',
  'Japan',
  'Korea',
  'Norway',
  'Switzerland',
  'UAE',
  'UK',
  'United States',
] as const;

export interface MailAppConfig {
  readonly scoping: MailboxScoping;
  /** Mailboxes the relay sends as (RBAC management scope members / documentation for AAP). */
  readonly senderMailboxes: readonly string[];
  /** Mail-enabled security group holding the senders (AAP needs one; RBAC may use it instead). */
  readonly senderGroup?: string;
  /** Graph upload-session path for messages over ~3.5 MB: adds Mail.ReadWrite and MaxSendSize. */
  readonly largeMessages: boolean;
  readonly maxSendSizeMB: number;
  readonly credential: MailCredential;
  readonly secretLifetimeDays: number;
  readonly secretRotationDays: number;
  readonly certificateValidityDays: number;
}

export interface ApplianceConfig {
  readonly sites: readonly string[];
  readonly sitePublicIps: readonly string[];
  readonly deviceNetworks: readonly string[];
  readonly defaultRoute: RouteKind;
  readonly certificateValidityDays: number;
  readonly smtpPort: number;
}

export interface AcsConfig {
  readonly enabled: boolean;
  readonly domain?: string;
  readonly management: DomainManagementMode;
  readonly dataLocation: string;
  readonly senderUsernames: readonly string[];
  readonly senderDisplayName: string;
  readonly linkDomain: boolean;
  readonly recordsPublished: boolean;
  readonly smtpUsername?: string;
  readonly dmarcPolicy?: string;
}

export interface DnsConfig {
  readonly zoneName?: string;
  readonly zoneResourceGroup?: string;
  readonly apexTxt: ApexTxtMode;
  readonly existingApexTxt: readonly string[];
}

export interface ExchangeConfig {
  readonly inboundConnector: ConnectorMode;
  readonly connectorCertificateName?: string;
  readonly hveAccount?: string;
}

export interface TenantConfig {
  readonly stack: string;
  readonly customerCode: string;
  readonly customerName: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly location: string;
  readonly extraTags: Readonly<Record<string, string>>;
  readonly mail: MailAppConfig;
  readonly appliance: ApplianceConfig;
  readonly acs: AcsConfig;
  readonly dns: DnsConfig;
  readonly vault: { readonly network: VaultNetwork; readonly softDeleteRetentionDays: number };
  readonly exchange: ExchangeConfig;
}

/** Every key this program reads, in the order Pulumi.yaml declares them (a test keeps them in sync). */
export const KNOWN_KEYS = [
  'customerCode',
  'customerName',
  'tenantId',
  'subscriptionId',
  'location',
  'extraTags',
  'mailboxScoping',
  'senderMailboxes',
  'senderGroup',
  'largeMessages',
  'maxSendSizeMB',
  'mailCredential',
  'secretLifetimeDays',
  'secretRotationDays',
  'certificateValidityDays',
  'sites',
  'sitePublicIps',
  'deviceNetworks',
  'defaultRoute',
  'applianceCertificateValidityDays',
  'applianceSmtpPort',
  'acsEnabled',
  'acsDomain',
  'acsDomainManagement',
  'acsDataLocation',
  'acsSenderUsernames',
  'acsSenderDisplayName',
  'acsLinkDomain',
  'acsRecordsPublished',
  'acsSmtpUsername',
  'acsDmarcPolicy',
  'dnsZoneName',
  'dnsZoneResourceGroup',
  'dnsApexTxt',
  'dnsExistingApexTxt',
  'vaultNetwork',
  'vaultSoftDeleteRetentionDays',
  'inboundConnector',
  'connectorCertificateName',
  'hveAccount',
  'hvePassword',
] as const;
export type ConfigKey = (typeof KNOWN_KEYS)[number];

/** Keys whose values are secrets (Pulumi.yaml `secret: true`; read with getSecret). */
export const SECRET_KEYS: readonly ConfigKey[] = ['hvePassword'];

export class StackConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@'"<>]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
const FQDN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const SITE = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Raw values as Pulumi delivers them: strings; arrays are JSON text. */
export type RawConfig = Readonly<Partial<Record<ConfigKey, string>>>;

/** Parses and validates; throws StackConfigError listing every problem as "relaykit:<key>: …". */
export function parseTenantConfig(raw: RawConfig, stack: string): TenantConfig {
  const problems: string[] = [];
  const bad = (key: ConfigKey, msg: string) => problems.push(`${CONFIG_NAMESPACE}:${key}: ${msg}`);

  const str = (key: ConfigKey): string | undefined => {
    const v = raw[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (key: ConfigKey, hint: string): string => {
    const v = str(key);
    if (v === undefined) bad(key, `is required (${hint}); set it with \`pulumi config set ${key} <value>\``);
    return v ?? '';
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[], dflt: T): T => {
    const v = str(key);
    if (v === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(v)) {
      bad(key, `must be one of ${allowed.join(', ')} (got "${v}")`);
      return dflt;
    }
    return v as T;
  };
  const bool = (key: ConfigKey, dflt: boolean): boolean => {
    const v = str(key);
    if (v === undefined) return dflt;
    if (v === 'true') return true;
    if (v === 'false') return false;
    bad(key, `must be true or false (got "${v}")`);
    return dflt;
  };
  const int = (key: ConfigKey, dflt: number, min: number, max: number): number => {
    const v = str(key);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      bad(key, `must be a whole number from ${min} to ${max} (got "${v}")`);
      return dflt;
    }
    return n;
  };
  const list = (key: ConfigKey): string[] => {
    const v = str(key);
    if (v === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      bad(key, 'must be a list of strings (YAML list in the stack file, or JSON text)');
      return [];
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      bad(key, 'must be a list of strings');
      return [];
    }
    return parsed.map((s) => s.trim());
  };
  const each = (key: ConfigKey, items: readonly string[], ok: (s: string) => boolean, what: string) => {
    for (const item of items) if (!ok(item)) bad(key, `"${item}" is not ${what}`);
  };

  const customerCode = required('customerCode', 'short client code such as fabrikam');
  if (customerCode !== '' && !CUSTOMER_CODE.test(customerCode)) {
    bad(
      'customerCode',
      `must be 2-12 lower-case letters/digits starting with a letter (got "${customerCode}")`,
    );
  }
  const tenantId = required('tenantId', "the client's Entra tenant ID");
  if (tenantId !== '' && !GUID.test(tenantId)) bad('tenantId', 'must be a GUID');
  const subscriptionId = required('subscriptionId', "the client's Azure subscription ID");
  if (subscriptionId !== '' && !GUID.test(subscriptionId)) bad('subscriptionId', 'must be a GUID');

  const extraTags: Record<string, string> = {};
  for (const entry of list('extraTags')) {
    const eq = entry.indexOf('=');
    const k = eq > 0 ? entry.slice(0, eq).trim() : '';
    if (k === '' || /[<>%&\\?/]/.test(k))
      bad('extraTags', `"${entry}" must look like key=value (no <>%&\\?/ in the key)`);
    else extraTags[k] = entry.slice(eq + 1).trim();
  }

  // Mail app
  const scoping = oneOf('mailboxScoping', MAILBOX_SCOPING, 'rbac-for-applications');
  const senderMailboxes = list('senderMailboxes');
  each('senderMailboxes', senderMailboxes, (s) => EMAIL.test(s), 'an e-mail address');
  const senderGroup = str('senderGroup');
  if (senderGroup !== undefined && !EMAIL.test(senderGroup)) {
    bad('senderGroup', 'must be the e-mail address of a mail-enabled security group');
  }
  if (scoping === 'application-access-policy' && senderGroup === undefined) {
    bad(
      'senderGroup',
      'is required when mailboxScoping is application-access-policy (policies target a group)',
    );
  }
  if (scoping === 'rbac-for-applications' && senderMailboxes.length === 0 && senderGroup === undefined) {
    bad('senderMailboxes', 'list at least one mailbox (or set senderGroup) to scope the mail app to');
  }
  const largeMessages = bool('largeMessages', false);
  const maxSendSizeMB = int('maxSendSizeMB', 35, 1, 150);
  const credential = oneOf('mailCredential', MAIL_CREDENTIALS, 'certificate');
  const secretLifetimeDays = int('secretLifetimeDays', 180, 7, 730);
  const secretRotationDays = int('secretRotationDays', 90, 1, 729);
  if (secretRotationDays >= secretLifetimeDays) {
    bad(
      'secretRotationDays',
      `must be less than secretLifetimeDays (${secretLifetimeDays}) so a new secret exists before the old one expires`,
    );
  }
  const certificateValidityDays = int('certificateValidityDays', 365, 30, 825);

  // Appliance
  const sites = list('sites');
  if (sites.length === 0) bad('sites', 'list at least one site (one appliance bundle is produced per site)');
  each('sites', sites, (s) => SITE.test(s), 'a site name (lower-case letters, digits, dashes)');
  if (new Set(sites).size !== sites.length) bad('sites', 'site names must be unique');
  const sitePublicIps = list('sitePublicIps');
  each('sitePublicIps', sitePublicIps, (s) => isIpv4OrCidr(s), 'an IPv4 address or CIDR range (/24 to /32)');
  const deviceNetworks = list('deviceNetworks');
  if (deviceNetworks.length === 0) {
    bad(
      'deviceNetworks',
      'list the networks the devices send from (e.g. 192.168.10.0/24); the appliance admits only them',
    );
  }
  each('deviceNetworks', deviceNetworks, (s) => isCidr(s), 'an IP address or CIDR range');
  const defaultRoute = oneOf('defaultRoute', ROUTE_KINDS, 'graph');
  const applianceCertDays = int('applianceCertificateValidityDays', 365, 30, 825);
  const smtpPort = int('applianceSmtpPort', 25, 1, 65535);

  // ACS
  const acsEnabled = bool('acsEnabled', true);
  const management = oneOf('acsDomainManagement', DOMAIN_MANAGEMENT, 'customer-managed');
  const acsDomain = str('acsDomain')?.toLowerCase();
  if (acsEnabled && management === 'customer-managed') {
    if (acsDomain === undefined)
      bad('acsDomain', 'is required for a customer-managed ACS domain (e.g. notify.contoso.com)');
    else if (!FQDN.test(acsDomain)) bad('acsDomain', `"${acsDomain}" is not a domain name`);
  }
  const dataLocation = str('acsDataLocation') ?? 'Europe';
  if (!(ACS_DATA_LOCATIONS as readonly string[]).includes(dataLocation)) {
    bad('acsDataLocation', `must be one of ${ACS_DATA_LOCATIONS.join(', ')} (got "${dataLocation}")`);
  }
  const senderUsernamesRaw = list('acsSenderUsernames');
  const senderUsernames = senderUsernamesRaw.length > 0 ? senderUsernamesRaw : ['donotreply'];
  each(
    'acsSenderUsernames',
    senderUsernames,
    (s) => /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(s),
    'a mailbox local part',
  );
  const smtpUsername = str('acsSmtpUsername');
  if (smtpUsername !== undefined && credential !== 'secret') {
    bad(
      'acsSmtpUsername',
      'ACS SMTP AUTH uses the app client secret as password: set mailCredential to secret',
    );
  }
  const dmarcPolicy = str('acsDmarcPolicy');
  if (dmarcPolicy !== undefined && !/^v=DMARC1;/.test(dmarcPolicy)) {
    bad('acsDmarcPolicy', 'must be a DMARC record starting with "v=DMARC1;"');
  }
  const acsSenderDisplayName = str('acsSenderDisplayName') ?? str('customerName') ?? customerCode;

  // DNS
  const zoneName = str('dnsZoneName')?.toLowerCase();
  const zoneResourceGroup = str('dnsZoneResourceGroup');
  const apexTxt = oneOf('dnsApexTxt', APEX_TXT_MODES, 'manual');
  const existingApexTxt = list('dnsExistingApexTxt');
  if (zoneName !== undefined) {
    if (zoneResourceGroup === undefined) bad('dnsZoneResourceGroup', 'is required when dnsZoneName is set');
    if (acsDomain !== undefined && acsDomain !== zoneName && !acsDomain.endsWith(`.${zoneName}`)) {
      bad('dnsZoneName', `zone "${zoneName}" does not contain acsDomain "${acsDomain}"`);
    }
    if (management === 'azure-managed')
      bad('dnsZoneName', 'an Azure-managed ACS domain needs no DNS records; unset it');
  }
  if ((apexTxt === 'adopt' || apexTxt === 'merge') && existingApexTxt.length === 0) {
    bad(
      'dnsExistingApexTxt',
      `list the TXT values already published at the domain (dnsApexTxt is ${apexTxt})`,
    );
  }

  // Vault
  const network = oneOf('vaultNetwork', VAULT_NETWORK, 'sites-only');
  if (network === 'sites-only' && sitePublicIps.length === 0) {
    bad(
      'sitePublicIps',
      "list the sites' public IPs (vaultNetwork sites-only lets only them reach the vault)",
    );
  }
  const softDeleteRetentionDays = int('vaultSoftDeleteRetentionDays', 90, 7, 90);

  // Exchange
  const inboundConnector = oneOf('inboundConnector', CONNECTOR_MODES, 'none');
  const connectorCertificateName = str('connectorCertificateName')?.toLowerCase();
  if (inboundConnector === 'certificate' && connectorCertificateName === undefined) {
    bad(
      'connectorCertificateName',
      'is required when inboundConnector is certificate (the TLS certificate subject/SAN)',
    );
  }
  if (inboundConnector === 'ip' && sitePublicIps.length === 0) {
    bad('sitePublicIps', "list the sites' public IPv4 addresses (inboundConnector is ip)");
  }
  const hveAccount = str('hveAccount');
  if (hveAccount !== undefined && !EMAIL.test(hveAccount)) bad('hveAccount', 'must be an e-mail address');
  if (defaultRoute === 'hve' && hveAccount === undefined)
    bad('hveAccount', 'is required when defaultRoute is hve');
  if (defaultRoute === 'acs' && !acsEnabled) bad('defaultRoute', 'is acs but acsEnabled is false');

  if (problems.length > 0) throw new StackConfigError(problems);

  return {
    stack,
    customerCode,
    customerName: str('customerName') ?? customerCode,
    tenantId: tenantId.toLowerCase(),
    subscriptionId: subscriptionId.toLowerCase(),
    location: str('location') ?? 'westeurope',
    extraTags,
    mail: {
      scoping,
      senderMailboxes,
      ...(senderGroup === undefined ? {} : { senderGroup }),
      largeMessages,
      maxSendSizeMB,
      credential,
      secretLifetimeDays,
      secretRotationDays,
      certificateValidityDays,
    },
    appliance: {
      sites,
      sitePublicIps,
      deviceNetworks,
      defaultRoute,
      certificateValidityDays: applianceCertDays,
      smtpPort,
    },
    acs: {
      enabled: acsEnabled,
      ...(acsDomain === undefined ? {} : { domain: acsDomain }),
      management,
      dataLocation,
      senderUsernames,
      senderDisplayName: acsSenderDisplayName,
      linkDomain: bool('acsLinkDomain', false),
      recordsPublished: bool('acsRecordsPublished', false),
      ...(smtpUsername === undefined ? {} : { smtpUsername }),
      ...(dmarcPolicy === undefined ? {} : { dmarcPolicy }),
    },
    dns: {
      ...(zoneName === undefined ? {} : { zoneName }),
      ...(zoneResourceGroup === undefined ? {} : { zoneResourceGroup }),
      apexTxt,
      existingApexTxt,
    },
    vault: { network, softDeleteRetentionDays },
    exchange: {
      inboundConnector,
      ...(connectorCertificateName === undefined ? {} : { connectorCertificateName }),
      ...(hveAccount === undefined ? {} : { hveAccount }),
    },
  };
}

function isCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Exchange connectors and Key Vault IP rules take IPv4 only; connectors accept /24 to /32. */
function isIpv4OrCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || isIP(addr) !== 4) return false;
  return bits === undefined || (/^\d{2}$/.test(bits) && Number(bits) >= 24 && Number(bits) <= 32);
}

/**
 * Reads the stack's `relaykit:*` config through pulumi.Config. Non-secret values are read as plain
 * strings (arrays arrive as JSON text); the secret HVE password is returned as a secret Output.
 */
export function loadTenantConfig(): { config: TenantConfig; hvePassword: pulumi.Output<string> | undefined } {
  const cfg = new pulumi.Config(CONFIG_NAMESPACE);
  const raw: Partial<Record<ConfigKey, string>> = {};
  for (const key of KNOWN_KEYS) {
    if (SECRET_KEYS.includes(key)) continue;
    const v = cfg.get(key);
    if (v !== undefined) raw[key] = v;
  }
  const config = parseTenantConfig(raw, pulumi.getStack());
  const hve = cfg.getSecret('hvePassword');
  return { config, hvePassword: hve === undefined ? undefined : (hve as pulumi.Output<string>) };
}
