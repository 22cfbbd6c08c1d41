// infra/ room: the plain-data inputs the pure renderers take (Exchange scripts, appliance config),
// assembled from the validated stack config and the resolved IDs of the tenant's resources. Pure.
import type { ApplianceConfigInput } from './appliance-bundle.ts';
import type { TenantConfig } from './config-keys.ts';
import type { ExchangeScriptInput } from './exchange-scripts.ts';
import { SECRET_NAMES, tenantNames } from './naming.ts';

/** Inputs of the Exchange script renderers, from config and the mail app's IDs. */
export function exchangeInput(cfg: TenantConfig, appId: string, spObjectId: string): ExchangeScriptInput {
  const names = tenantNames(cfg.customerCode, cfg.subscriptionId);
  return {
    customerCode: cfg.customerCode,
    tenantId: cfg.tenantId,
    appId,
    servicePrincipalObjectId: spObjectId,
    appDisplayName: names.mailAppDisplayName,
    managementScope: names.managementScope,
    senderMailboxes: cfg.mail.senderMailboxes,
    ...(cfg.mail.senderGroup === undefined ? {} : { senderGroup: cfg.mail.senderGroup }),
    largeMessages: cfg.mail.largeMessages,
    maxSendSizeMB: cfg.mail.maxSendSizeMB,
    connector: {
      mode: cfg.exchange.inboundConnector,
      name: names.inboundConnector,
      senderIps: cfg.appliance.sitePublicIps,
      ...(cfg.exchange.connectorCertificateName === undefined
        ? {}
        : { certificateName: cfg.exchange.connectorCertificateName }),
    },
    ...(cfg.exchange.hveAccount === undefined
      ? {}
      : { hve: { account: cfg.exchange.hveAccount, displayName: `relaykit HVE (${cfg.customerCode})` } }),
    accessPolicyDescription: names.accessPolicyDescription,
  };
}

/** Inputs of the appliance config renderer for one site. */
export function applianceInput(
  cfg: TenantConfig,
  site: string,
  ids: {
    mailClientId: string;
    applianceClientId: string;
    vaultUri: string;
    mailSecretName: string;
    acsEndpoint?: string;
    acsSenders: readonly string[];
  },
): ApplianceConfigInput {
  return {
    site,
    customerCode: cfg.customerCode,
    tenantId: cfg.tenantId,
    smtpPort: cfg.appliance.smtpPort,
    deviceNetworks: cfg.appliance.deviceNetworks,
    defaultRoute: cfg.appliance.defaultRoute,
    keyVault: { url: ids.vaultUri, clientId: ids.applianceClientId },
    mailApp: {
      clientId: ids.mailClientId,
      credential: cfg.mail.credential,
      secretName: ids.mailSecretName,
      largeMessages: cfg.mail.largeMessages,
      senderMailboxes: cfg.mail.senderMailboxes,
    },
    ...(ids.acsEndpoint === undefined || ids.acsSenders.length === 0
      ? {}
      : { acs: { endpoint: ids.acsEndpoint, senderAddresses: ids.acsSenders } }),
    ...(cfg.exchange.hveAccount === undefined
      ? {}
      : { hve: { account: cfg.exchange.hveAccount, secretName: SECRET_NAMES.hvePassword } }),
  };
}
