// infra/ room: the vocabulary of the stack configuration — every key this program reads (in
// Pulumi.yaml order), the allowed values of each enumerated key, the parsed TenantConfig shape and
// the error that names bad keys. No parsing here (config.ts) and no Pulumi.

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

/**
 * ACS creates a `DoNotReply` MailFrom on every domain itself (microsoft-mail-apis.md B6). A stack
 * that declared it would adopt Azure's sender and delete it on destroy, so the name is reserved.
 */
export const ACS_RESERVED_SENDER = 'donotreply';

/**
 * How one certificate credential is rotated with overlap. Raising `generation` issues a new
 * certificate; the previous generation stays registered (so sites not yet re-bundled keep working)
 * until `rotatedAt` + credentialGraceDays, or until `retirePrevious` is set.
 */
export interface CertificateRotation {
  /** 1 for the first certificate; +1 per rotation. */
  readonly generation: number;
  /** Day (YYYY-MM-DD) the current generation was issued; required from generation 2 on. */
  readonly rotatedAt?: string;
  /** Drop the previous generation now instead of waiting out the grace period. */
  readonly retirePrevious: boolean;
}

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
  /** Certificate mode: generation-based rotation. Secret mode: retirePrevious drops last period's secret. */
  readonly certificateRotation: CertificateRotation;
}

export interface ApplianceConfig {
  readonly sites: readonly string[];
  readonly sitePublicIps: readonly string[];
  readonly deviceNetworks: readonly string[];
  readonly defaultRoute: RouteKind;
  readonly certificateValidityDays: number;
  readonly certificateRotation: CertificateRotation;
  readonly smtpPort: number;
}

export interface AcsConfig {
  readonly enabled: boolean;
  readonly domain?: string;
  readonly management: DomainManagementMode;
  readonly dataLocation: string;
  /** MailFrom usernames the stack creates (never `donotreply`, which ACS owns). */
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
  /** The client's accepted domains; mailboxes outside them are refused (empty: not checked). */
  readonly tenantDomains: readonly string[];
  readonly location: string;
  readonly extraTags: Readonly<Record<string, string>>;
  readonly mail: MailAppConfig;
  /** Days a replaced credential stays valid next to its successor. */
  readonly credentialGraceDays: number;
  readonly appliance: ApplianceConfig;
  readonly acs: AcsConfig;
  readonly dns: DnsConfig;
  readonly vault: { readonly network: VaultNetwork; readonly softDeleteRetentionDays: number };
  readonly exchange: ExchangeConfig;
  /** CanNotDelete locks on the vault, ACS and the shared DNS record sets. */
  readonly resourceLocks: boolean;
  /** Existing Log Analytics workspace for diagnostic settings; one is created when absent. */
  readonly diagnosticsWorkspaceId?: string;
}

/** Every key this program reads, in the order Pulumi.yaml declares them (a test keeps them in sync). */
export const KNOWN_KEYS = [
  'customerCode',
  'customerName',
  'tenantId',
  'subscriptionId',
  'tenantDomains',
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
  'credentialGraceDays',
  'certificateValidityDays',
  'mailCertificateGeneration',
  'mailCertificateRotatedAt',
  'mailCredentialRetirePrevious',
  'sites',
  'sitePublicIps',
  'deviceNetworks',
  'defaultRoute',
  'applianceCertificateValidityDays',
  'applianceCertificateGeneration',
  'applianceCertificateRotatedAt',
  'applianceCertificateRetirePrevious',
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
  'resourceLocks',
  'diagnosticsWorkspaceId',
  'inboundConnector',
  'connectorCertificateName',
  'hveAccount',
  'hvePassword',
] as const;
export type ConfigKey = (typeof KNOWN_KEYS)[number];

/** Keys whose values are secrets (Pulumi.yaml `secret: true`; read with getSecret). */
export const SECRET_KEYS: readonly ConfigKey[] = ['hvePassword'];

/** Raw values as Pulumi delivers them: strings; arrays are JSON text. */
export type RawConfig = Readonly<Partial<Record<ConfigKey, string>>>;

export class StackConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}
