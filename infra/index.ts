// infra/ room: the Pulumi entry point (Pulumi.yaml `main: infra/`). Reads the stack config,
// instantiates the tenant program and exports its outputs — nothing else lives here.
import { loadTenantConfig } from './config.ts';
import { deployTenant } from './customer-tenant.ts';

const { config, hvePassword: hveSecret } = loadTenantConfig();
const tenant = deployTenant({
  config,
  ...(hveSecret === undefined ? {} : { hvePassword: hveSecret }),
  now: new Date(),
});

export const resourceGroupName = tenant.resourceGroupName;
export const mailAppClientId = tenant.mailAppClientId;
export const mailAppServicePrincipalObjectId = tenant.mailAppServicePrincipalObjectId;
export const mailCredentialExpires = tenant.mailCredentialExpires;
export const applianceClientId = tenant.applianceClientId;
export const applianceCertificateExpires = tenant.applianceCertificateExpires;
export const credentialExpiry = tenant.credentialExpiry;
export const resourceProviders = tenant.resourceProviders;
export const keyVaultName = tenant.keyVaultName;
export const keyVaultUri = tenant.keyVaultUri;
export const acsEndpoint = tenant.acsEndpoint;
export const acsSenderAddresses = tenant.acsSenderAddresses;
export const acsVerificationRecords = tenant.acsVerificationRecords;
export const acsVerificationTable = tenant.acsVerificationTable;
export const acsLinkStatus = tenant.acsLinkStatus;
export const acsVerificationStatus = tenant.acsVerificationStatus;
export const dnsNotes = tenant.dnsNotes;
export const exchangeScripts = tenant.exchangeScripts;
export const bundles = tenant.bundles;
export const hvePassword = tenant.hvePassword;
