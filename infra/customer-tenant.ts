// infra/ room: the whole per-tenant program. `deployTenant` creates the tenant's explicit providers
// (so one workstation can serve many clients without ambient-credential mix-ups) and one
// CustomerTenant component that wires the mail app, appliance identity, Key Vault, ACS Email,
// Exchange scripts and appliance bundles together. index.ts (the Pulumi entry point) and plan.ts
// (the mocked dry run) both call deployTenant, so tests cover exactly what `pulumi up` runs.
import * as azure from '@pulumi/azure-native';
import * as azuread from '@pulumi/azuread';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { VerificationRow } from './acs-dns.ts';
import { AcsEmail } from './acs-email.ts';
import { renderBundle } from './appliance-bundle.ts';
import type { TenantConfig } from './config-keys.ts';
import { type CredentialExpiry, rotationWindow } from './credential-rotation.ts';
import { ApplianceIdentity, MailApp } from './entra-app.ts';
import { renderExchangeScripts } from './exchange-scripts.ts';
import { RelayVault, type VaultSecret } from './key-vault.ts';
import { baseTags, SECRET_NAMES, tenantNames } from './naming.ts';
import { ProviderRegistration, requiredProviders } from './provider-registration.ts';
import { applianceInput, exchangeInput } from './tenant-inputs.ts';

export { applianceInput, exchangeInput } from './tenant-inputs.ts';

export interface CustomerTenantArgs {
  /** Validated stack configuration (config.ts). */
  config: TenantConfig;
  /** HVE account password from config (secret); generated when absent and an HVE account is set. */
  hvePassword?: pulumi.Output<string>;
  /** Clock for the client-secret rotation window and the rotation grace periods. */
  now: Date;
}

export interface TenantOutputs {
  resourceGroupName: pulumi.Output<string>;
  mailAppClientId: pulumi.Output<string>;
  mailAppServicePrincipalObjectId: pulumi.Output<string>;
  mailCredentialExpires: pulumi.Output<string>;
  applianceClientId: pulumi.Output<string>;
  applianceCertificateExpires: pulumi.Output<string>;
  /**
   * Every registered credential, current and (during a rotation's grace) previous, with its expiry
   * and, for a previous one, when the next run removes it. What `relaykit tenant rotate` reads.
   */
  credentialExpiry: pulumi.Output<{
    mailCredential: CredentialExpiry[];
    applianceCertificate: CredentialExpiry[];
  }>;
  /** Resource-provider namespaces the stack registers (or names, when it may not) before anything else. */
  resourceProviders: pulumi.Output<string[]>;
  keyVaultName: pulumi.Output<string>;
  keyVaultUri: pulumi.Output<string>;
  acsEndpoint: pulumi.Output<string | undefined>;
  acsSenderAddresses: pulumi.Output<string[]>;
  acsVerificationRecords: pulumi.Output<VerificationRow[]>;
  acsVerificationTable: pulumi.Output<string>;
  acsLinkStatus: pulumi.Output<string>;
  /** Per verification record: its state and the last verification request's answer. */
  acsVerificationStatus: pulumi.Output<string[]>;
  dnsNotes: pulumi.Output<string[]>;
  /** Exchange Online scripts by file name (not secret: IDs only). */
  exchangeScripts: pulumi.Output<Record<string, string>>;
  /** Appliance bundle JSON per site (secret: holds the appliance's private key). */
  bundles: pulumi.Output<Record<string, string>>;
  /** HVE account password (secret), for the hve-account.ps1 script. */
  hvePassword: pulumi.Output<string | undefined>;
}

export class CustomerTenant extends pulumi.ComponentResource {
  public readonly outputs: TenantOutputs;

  constructor(name: string, args: CustomerTenantArgs, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:index:CustomerTenant', name, {}, opts);
    const cfg = args.config;
    const names = tenantNames(cfg.customerCode, cfg.subscriptionId);
    const tags = baseTags(cfg.customerCode, cfg.stack, cfg.extraTags);

    // Pre-flight: the subscription's resource providers, before the first resource that needs one.
    const namespaces = requiredProviders(cfg);
    const registration = new ProviderRegistration(
      `${name}-providers`,
      { subscriptionId: cfg.subscriptionId, tenantId: cfg.tenantId, namespaces },
      { parent: this },
    );
    const rg = new azure.resources.ResourceGroup(
      `${name}-rg`,
      { resourceGroupName: names.resourceGroup, location: cfg.location, tags },
      { parent: this, dependsOn: [registration] },
    );
    const workspaceId: pulumi.Input<string> =
      cfg.diagnosticsWorkspaceId ??
      new azure.operationalinsights.Workspace(
        `${name}-logs`,
        {
          resourceGroupName: rg.name,
          workspaceName: names.logAnalyticsWorkspace,
          location: cfg.location,
          sku: { name: 'PerGB2018' },
          retentionInDays: 30,
          tags,
        },
        { parent: this },
      ).id;

    const mail = new MailApp(
      `${name}-mail`,
      {
        displayName: names.mailAppDisplayName,
        scoping: cfg.mail.scoping,
        largeMessages: cfg.mail.largeMessages,
        credential: cfg.mail.credential,
        secretRotationDays: cfg.mail.secretRotationDays,
        secretLifetimeDays: cfg.mail.secretLifetimeDays,
        certificateValidityDays: cfg.mail.certificateValidityDays,
        certificateRotation: cfg.mail.certificateRotation,
        graceDays: cfg.credentialGraceDays,
        now: args.now,
        customerCode: cfg.customerCode,
      },
      { parent: this },
    );
    const appliance = new ApplianceIdentity(
      `${name}-appliance`,
      {
        displayName: names.applianceAppDisplayName,
        certificateValidityDays: cfg.appliance.certificateValidityDays,
        certificateRotation: cfg.appliance.certificateRotation,
        graceDays: cfg.credentialGraceDays,
        now: args.now,
        customerCode: cfg.customerCode,
      },
      { parent: this },
    );

    let hvePassword: pulumi.Output<string> | undefined;
    if (cfg.exchange.hveAccount !== undefined) {
      hvePassword =
        args.hvePassword ??
        pulumi.secret(
          new random.RandomPassword(
            `${name}-hve-password`,
            { length: 32, special: true, overrideSpecial: '!#%*+-=?_' },
            { parent: this },
          ).result,
        );
    }

    const mailSecretName =
      cfg.mail.credential === 'secret' ? SECRET_NAMES.mailAppClientSecret : SECRET_NAMES.mailAppCertificate;
    const secrets: Record<string, VaultSecret> = {
      [mailSecretName]: {
        value: mail.credentialValue,
        contentType: cfg.mail.credential === 'secret' ? 'text/plain' : 'application/x-pem-file',
        expires: mail.credentialExpires,
      },
    };
    if (hvePassword !== undefined) {
      // The HVE password does not expire by itself; its vault entry carries the secret window's end
      // as a reminder to change it (the value is kept until someone does).
      secrets[SECRET_NAMES.hvePassword] = {
        value: hvePassword,
        contentType: 'text/plain',
        expires: rotationWindow(args.now, cfg.mail.secretRotationDays, cfg.mail.secretLifetimeDays).endDate,
      };
    }

    const vault = new RelayVault(
      `${name}-kv`,
      {
        resourceGroupName: rg.name,
        vaultName: names.keyVault,
        location: cfg.location,
        tenantId: cfg.tenantId,
        subscriptionId: cfg.subscriptionId,
        network: cfg.vault.network,
        allowedIps: cfg.appliance.sitePublicIps,
        softDeleteRetentionDays: cfg.vault.softDeleteRetentionDays,
        secrets,
        readerPrincipalId: appliance.servicePrincipalObjectId,
        lock: cfg.resourceLocks,
        diagnosticsWorkspaceId: workspaceId,
        tags,
      },
      { parent: this },
    );

    let acs: AcsEmail | undefined;
    if (cfg.acs.enabled) {
      acs = new AcsEmail(
        `${name}-acs`,
        {
          resourceGroupName: rg.name,
          resourceGroupId: rg.id,
          customerCode: cfg.customerCode,
          locks: cfg.resourceLocks,
          diagnosticsWorkspaceId: workspaceId,
          emailServiceName: names.emailService,
          communicationServiceName: names.communicationService,
          dataLocation: cfg.acs.dataLocation,
          management: cfg.acs.management,
          ...(cfg.acs.domain === undefined ? {} : { domain: cfg.acs.domain }),
          senderUsernames: cfg.acs.senderUsernames,
          senderDisplayName: cfg.acs.senderDisplayName,
          linkDomain: cfg.acs.linkDomain,
          recordsPublished: cfg.acs.recordsPublished,
          senderPrincipalId: mail.servicePrincipalObjectId,
          entraApplicationId: mail.clientId,
          subscriptionId: cfg.subscriptionId,
          tenantId: cfg.tenantId,
          ...(cfg.acs.smtpUsername === undefined ? {} : { smtpUsername: cfg.acs.smtpUsername }),
          ...(cfg.acs.dmarcPolicy === undefined ? {} : { dmarcPolicy: cfg.acs.dmarcPolicy }),
          ...(cfg.dns.zoneName === undefined || cfg.dns.zoneResourceGroup === undefined
            ? {}
            : {
                dns: {
                  zoneName: cfg.dns.zoneName,
                  zoneResourceGroup: cfg.dns.zoneResourceGroup,
                  apexTxt: cfg.dns.apexTxt,
                  existingApexTxt: cfg.dns.existingApexTxt,
                },
              }),
          tags,
        },
        { parent: this },
      );
    }

    const exchangeScripts = pulumi
      .all([mail.clientId, mail.servicePrincipalObjectId])
      .apply(([appId, spObjectId]) =>
        renderExchangeScripts(exchangeInput(cfg, appId, spObjectId), cfg.mail.scoping),
      );

    const acsEndpoint = acs?.endpoint ?? pulumi.output(undefined);
    const acsSenders = acs?.senderAddresses ?? pulumi.output([] as string[]);
    const bundles = pulumi.secret(
      pulumi
        .all([
          mail.clientId,
          appliance.clientId,
          vault.vaultUri,
          appliance.pemBundle,
          acsEndpoint,
          acsSenders,
        ])
        .apply(([mailClientId, applianceClientId, vaultUri, pem, endpoint, senders]) => {
          const out: Record<string, string> = {};
          for (const site of cfg.appliance.sites) {
            const input = applianceInput(cfg, site, {
              mailClientId,
              applianceClientId,
              vaultUri,
              mailSecretName,
              ...(endpoint === undefined ? {} : { acsEndpoint: endpoint }),
              acsSenders: senders,
            });
            out[site] = renderBundle(input, pem);
          }
          return out;
        }),
    );

    this.outputs = {
      resourceGroupName: rg.name,
      mailAppClientId: mail.clientId,
      mailAppServicePrincipalObjectId: mail.servicePrincipalObjectId,
      mailCredentialExpires: mail.credentialExpires,
      applianceClientId: appliance.clientId,
      applianceCertificateExpires: appliance.certificateExpires,
      credentialExpiry: pulumi
        .all([mail.credentialExpiry, appliance.certificateExpiry])
        .apply(([m, a]) => ({ mailCredential: m, applianceCertificate: a })),
      resourceProviders: pulumi.output(namespaces),
      keyVaultName: vault.vaultName,
      keyVaultUri: vault.vaultUri,
      acsEndpoint,
      acsSenderAddresses: acsSenders,
      acsVerificationRecords: acs?.verificationRecords ?? pulumi.output([]),
      acsVerificationTable: acs?.verificationTable ?? pulumi.output('(ACS disabled)'),
      acsLinkStatus: acs?.linkStatus ?? pulumi.output('ACS disabled'),
      acsVerificationStatus: acs?.verificationStatus ?? pulumi.output([]),
      dnsNotes: acs?.dnsNotes ?? pulumi.output([]),
      exchangeScripts,
      bundles,
      hvePassword: hvePassword === undefined ? pulumi.output(undefined) : pulumi.secret(hvePassword),
    };
    this.registerOutputs({
      mailAppClientId: this.outputs.mailAppClientId,
      keyVaultUri: this.outputs.keyVaultUri,
      acsEndpoint: this.outputs.acsEndpoint,
    });
  }
}

/**
 * The program: explicit providers for this tenant, then the tenant component. Nothing ambient:
 * azure-native and azuread talk to exactly the configured tenant and subscription.
 */
export function deployTenant(args: CustomerTenantArgs): TenantOutputs {
  const cfg = args.config;
  const azureProvider = new azure.Provider(`${cfg.customerCode}-azure-native`, {
    tenantId: cfg.tenantId,
    subscriptionId: cfg.subscriptionId,
    location: cfg.location,
  });
  const adProvider = new azuread.Provider(`${cfg.customerCode}-azuread`, { tenantId: cfg.tenantId });
  const tenant = new CustomerTenant(cfg.customerCode, args, { providers: [azureProvider, adProvider] });
  return tenant.outputs;
}
