// infra/ room: the only place that reads stack configuration. Keys are declared (type, description,
// default, secret) in Pulumi.yaml and listed in config-keys.ts; this module parses the raw strings
// Pulumi hands over, applies the same defaults, validates everything at once (collisions included,
// config-checks.ts) and fails with messages that name each bad key — before any resource exists.
// `parseTenantConfig` is pure (tests call it with plain maps); `loadTenantConfig` wraps pulumi.Config.
import * as pulumi from '@pulumi/pulumi';
import {
  checkDomainClaims,
  checkSenderUsernames,
  checkSmtpUsername,
  checkTenantDomains,
} from './config-checks.ts';
import {
  ACS_DATA_LOCATIONS,
  APEX_TXT_MODES,
  type CertificateRotation,
  CONFIG_NAMESPACE,
  CONNECTOR_MODES,
  type ConfigKey,
  DOMAIN_MANAGEMENT,
  KNOWN_KEYS,
  MAIL_CREDENTIALS,
  MAILBOX_SCOPING,
  type RawConfig,
  ROUTE_KINDS,
  SECRET_KEYS,
  StackConfigError,
  type TenantConfig,
  VAULT_NETWORK,
} from './config-keys.ts';
import {
  type ConfigReaders,
  configReaders,
  EMAIL,
  FQDN,
  GUID,
  isCidr,
  isIpv4OrCidr,
  SITE,
} from './config-readers.ts';
import { CUSTOMER_CODE } from './naming.ts';

export * from './config-keys.ts';

/** Generation, issue day and retire switch of one rotating certificate. */
function rotation(
  r: ConfigReaders,
  keys: { generation: ConfigKey; rotatedAt: ConfigKey; retire: ConfigKey },
): CertificateRotation {
  const generation = r.int(keys.generation, 1, 1, 999);
  const rotatedAt = r.day(keys.rotatedAt);
  if (generation > 1 && rotatedAt === undefined && r.str(keys.rotatedAt) === undefined) {
    r.bad(
      keys.rotatedAt,
      `is required once ${keys.generation} is above 1: the day (YYYY-MM-DD) generation ${generation} was issued starts the grace period of the previous one`,
    );
  }
  return {
    generation,
    ...(rotatedAt === undefined ? {} : { rotatedAt }),
    retirePrevious: r.bool(keys.retire, false),
  };
}

/** Parses and validates; throws StackConfigError listing every problem as "relaykit:<key>: …". */
export function parseTenantConfig(raw: RawConfig, stack: string): TenantConfig {
  const r = configReaders(raw);
  const { bad, str, required, oneOf, bool, int, list, each } = r;

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
  const tenantDomains = list('tenantDomains').map((d) => d.toLowerCase());
  each('tenantDomains', tenantDomains, (d) => FQDN.test(d), 'a domain name');

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
  const credentialGraceDays = int('credentialGraceDays', 30, 0, 365);
  if (secretRotationDays >= secretLifetimeDays) {
    bad(
      'secretRotationDays',
      `must be less than secretLifetimeDays (${secretLifetimeDays}) so a new secret exists before the old one expires`,
    );
  } else if (credential === 'secret' && secretRotationDays + credentialGraceDays > secretLifetimeDays) {
    bad(
      'credentialGraceDays',
      `secretRotationDays (${secretRotationDays}) + credentialGraceDays (${credentialGraceDays}) must not exceed secretLifetimeDays (${secretLifetimeDays}): the previous secret must stay valid while it is kept`,
    );
  }
  const certificateValidityDays = int('certificateValidityDays', 365, 30, 825);
  const mailRotation = rotation(r, {
    generation: 'mailCertificateGeneration',
    rotatedAt: 'mailCertificateRotatedAt',
    retire: 'mailCredentialRetirePrevious',
  });

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
  const applianceRotation = rotation(r, {
    generation: 'applianceCertificateGeneration',
    rotatedAt: 'applianceCertificateRotatedAt',
    retire: 'applianceCertificateRetirePrevious',
  });
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
  const senderUsernames = list('acsSenderUsernames');
  each(
    'acsSenderUsernames',
    senderUsernames,
    (s) => /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(s),
    'a mailbox local part',
  );
  checkSenderUsernames(senderUsernames, bad);
  const smtpUsername = str('acsSmtpUsername');
  const linkDomain = bool('acsLinkDomain', false);
  if (smtpUsername !== undefined && credential !== 'secret') {
    bad(
      'acsSmtpUsername',
      'ACS SMTP AUTH uses the app client secret as password: set mailCredential to secret',
    );
  } else {
    checkSmtpUsername(
      smtpUsername,
      {
        ...(acsDomain === undefined ? {} : { domain: acsDomain }),
        azureManaged: management === 'azure-managed',
        linkDomain,
      },
      bad,
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
    if (apexTxt === 'create' && acsDomain === zoneName) {
      bad(
        'dnsApexTxt',
        `create would replace the TXT record set at the zone apex ${zoneName} (SPF, MS=…): use merge with dnsExistingApexTxt, or manual`,
      );
    }
  }
  if ((apexTxt === 'adopt' || apexTxt === 'merge') && existingApexTxt.length === 0) {
    bad(
      'dnsExistingApexTxt',
      `list the TXT values already published at the domain (dnsApexTxt is ${apexTxt})`,
    );
  }
  if (management === 'customer-managed') checkDomainClaims(acsDomain, existingApexTxt, bad);

  // Vault, locks, diagnostics
  const network = oneOf('vaultNetwork', VAULT_NETWORK, 'sites-only');
  if (network === 'sites-only' && sitePublicIps.length === 0) {
    bad(
      'sitePublicIps',
      "list the sites' public IPs (vaultNetwork sites-only lets only them reach the vault)",
    );
  }
  const softDeleteRetentionDays = int('vaultSoftDeleteRetentionDays', 90, 7, 90);
  const resourceLocks = bool('resourceLocks', true);
  const diagnosticsWorkspaceId = str('diagnosticsWorkspaceId');
  if (
    diagnosticsWorkspaceId !== undefined &&
    !/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.operationalinsights\/workspaces\/[^/]+$/i.test(
      diagnosticsWorkspaceId,
    )
  ) {
    bad('diagnosticsWorkspaceId', 'must be the ARM ID of a Log Analytics workspace');
  }

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
  checkTenantDomains(
    tenantDomains,
    [
      ...senderMailboxes.map((m) => ['senderMailboxes', m] as const),
      ['senderGroup', senderGroup],
      ['hveAccount', hveAccount],
    ],
    bad,
  );

  if (r.problems.length > 0) throw new StackConfigError(r.problems);

  return {
    stack,
    customerCode,
    customerName: str('customerName') ?? customerCode,
    tenantId: tenantId.toLowerCase(),
    subscriptionId: subscriptionId.toLowerCase(),
    tenantDomains,
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
      certificateRotation: mailRotation,
    },
    credentialGraceDays,
    appliance: {
      sites,
      sitePublicIps,
      deviceNetworks,
      defaultRoute,
      certificateValidityDays: applianceCertDays,
      certificateRotation: applianceRotation,
      smtpPort,
    },
    acs: {
      enabled: acsEnabled,
      ...(acsDomain === undefined ? {} : { domain: acsDomain }),
      management,
      dataLocation,
      senderUsernames,
      senderDisplayName: acsSenderDisplayName,
      linkDomain,
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
    resourceLocks,
    ...(diagnosticsWorkspaceId === undefined ? {} : { diagnosticsWorkspaceId }),
  };
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
