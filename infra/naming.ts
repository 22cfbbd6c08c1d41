// infra/ room: every physical name and tag the per-tenant program gives to Azure, Entra and Exchange
// objects. Pure functions of the customer code (and subscription, for globally unique names), so a
// stack always produces the same names and tests can check the Azure length/charset rules.
import { createHash } from 'node:crypto';

/** Short lower-case code for a client, e.g. "fabrikam": 2-12 letters/digits, starting with a letter. */
export const CUSTOMER_CODE = /^[a-z][a-z0-9]{1,11}$/;

/** Four hex digits derived from the subscription and customer code: keeps global names apart. */
export function nameSuffix(subscriptionId: string, customerCode: string): string {
  return createHash('sha256')
    .update(`${subscriptionId.toLowerCase()}/${customerCode}`)
    .digest('hex')
    .slice(0, 4);
}

export interface TenantNames {
  readonly resourceGroup: string;
  /** 3-24 chars, letters/digits/dashes, globally unique (DNS name <vault>.vault.azure.net). */
  readonly keyVault: string;
  readonly emailService: string;
  /** Globally unique: becomes <name>.<geo>.communication.azure.com. */
  readonly communicationService: string;
  readonly mailAppDisplayName: string;
  readonly applianceAppDisplayName: string;
  /** Exchange management scope limiting the mail app to the relay's sender mailboxes. */
  readonly managementScope: string;
  readonly inboundConnector: string;
  readonly accessPolicyDescription: string;
  readonly logAnalyticsWorkspace: string;
}

export function tenantNames(customerCode: string, subscriptionId: string): TenantNames {
  const sfx = nameSuffix(subscriptionId, customerCode);
  return {
    resourceGroup: `rg-relaykit-${customerCode}`,
    keyVault: `kv-rk-${customerCode}-${sfx}`,
    emailService: `acs-email-rk-${customerCode}`,
    communicationService: `acs-rk-${customerCode}-${sfx}`,
    mailAppDisplayName: `relaykit mail (${customerCode})`,
    applianceAppDisplayName: `relaykit appliance (${customerCode})`,
    managementScope: `relaykit-${customerCode}-senders`,
    inboundConnector: `relaykit appliance (${customerCode})`,
    accessPolicyDescription: `relaykit (${customerCode}): mail app may only send as the relay senders`,
    logAnalyticsWorkspace: `log-relaykit-${customerCode}-${sfx}`,
  };
}

/** Key Vault secret names the appliance config refers to (`credentials: {keyVault: {secret}}`). */
export const SECRET_NAMES = {
  mailAppClientSecret: 'mail-app-client-secret',
  mailAppCertificate: 'mail-app-certificate',
  hvePassword: 'hve-password',
} as const;

/** Tag keys every taggable Azure resource carries (the policy pack requires them by default). */
export const TAG_KEYS = {
  customer: 'relaykit-customer',
  stack: 'relaykit-stack',
  managedBy: 'managed-by',
} as const;

export function baseTags(
  customerCode: string,
  stack: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...extra,
    [TAG_KEYS.customer]: customerCode,
    [TAG_KEYS.stack]: stack,
    [TAG_KEYS.managedBy]: 'pulumi-relaykit',
  };
}

/** Azure Key Vault name rule (learn: vault names): 3-24, starts with a letter, no "--", ends alnum. */
export function isValidVaultName(name: string): boolean {
  return /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name);
}

/** A stable GUID from a seed (RFC 4122 layout), for names Azure wants as GUIDs (custom roles). */
export function guidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
