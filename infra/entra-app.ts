// infra/ room: the two Entra applications of a tenant. MailApp is what the appliance sends as (Graph
// Mail.Send, ACS): by default it gets NO tenant-wide Graph grant and Exchange RBAC for Applications
// scopes it to named mailboxes (exchange-scripts.ts). ApplianceIdentity is a separate app with a
// certificate that may only read the vault's secrets. Both rotate credentials with overlap
// (credential-rotation.ts, entra-credentials.ts). Pure helpers (permission IDs) are exported for
// tests; the components only wire resources.
import * as azuread from '@pulumi/azuread';
import * as pulumi from '@pulumi/pulumi';
import type { CertificateRotation, MailboxScoping, MailCredential } from './config-keys.ts';
import {
  type CredentialExpiry,
  certificateSlots,
  rotationWindow,
  secretSlots,
} from './credential-rotation.ts';
import { certificateCredentials, secretCredentials } from './entra-credentials.ts';

export { rotationWindow };

/** Microsoft Graph's application ID, the same in every tenant. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Graph application-permission (app role) IDs (graph permissions reference). */
export const GRAPH_APP_ROLES = {
  'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
  'Mail.ReadWrite': 'e2a3a72e-5f79-4c64-b1b1-878b674786c9',
} as const;
export type GraphAppRole = keyof typeof GRAPH_APP_ROLES;

/** Mail.Send always; Mail.ReadWrite only for the draft + upload-session path of large messages. */
export function graphRolesFor(largeMessages: boolean): GraphAppRole[] {
  return largeMessages ? ['Mail.Send', 'Mail.ReadWrite'] : ['Mail.Send'];
}

/** True when the mode needs a tenant-wide Graph grant (admin consent = app role assignment). */
export function grantsTenantWide(scoping: MailboxScoping): boolean {
  return scoping !== 'rbac-for-applications';
}

/**
 * requiredResourceAccesses of the mail app. In RBAC-for-Applications mode the registration declares
 * nothing: a declared-but-unconsented permission invites someone to press "Grant admin consent" in
 * the portal, which would silently make the Exchange scope meaningless (grants are a union).
 */
export function requiredResourceAccessesFor(scoping: MailboxScoping, largeMessages: boolean) {
  if (!grantsTenantWide(scoping)) return [];
  return [
    {
      resourceAppId: GRAPH_APP_ID,
      resourceAccesses: graphRolesFor(largeMessages).map((r) => ({ id: GRAPH_APP_ROLES[r], type: 'Role' })),
    },
  ];
}

export interface MailAppArgs {
  /** Display name of the app registration in the client's Entra tenant. */
  displayName: string;
  /** How mailbox access is limited (see config.ts MAILBOX_SCOPING). */
  scoping: MailboxScoping;
  /** Adds Mail.ReadWrite (tenant-wide modes) for the Graph draft + upload path. */
  largeMessages: boolean;
  /** Client secret (needed for ACS SMTP AUTH) or certificate (recommended by msal-node). */
  credential: MailCredential;
  /** Client-secret rotation period and lifetime, in days. */
  secretRotationDays: number;
  secretLifetimeDays: number;
  /** Certificate validity, in days. */
  certificateValidityDays: number;
  /** Certificate generation / retire switch; `retirePrevious` also drops last period's secret. */
  certificateRotation: CertificateRotation;
  /** Days a replaced credential stays registered next to its successor. */
  graceDays: number;
  /** "Now" for the rotation window and grace periods; injected so runs and tests are reproducible. */
  now: Date;
  /** Customer code, written into the app's tags and notes. */
  customerCode: string;
}

export class MailApp extends pulumi.ComponentResource {
  public readonly application: azuread.Application;
  public readonly servicePrincipal: azuread.ServicePrincipal;
  public readonly clientId: pulumi.Output<string>;
  /** Object ID of the Enterprise application (what Exchange's New-ServicePrincipal takes). */
  public readonly servicePrincipalObjectId: pulumi.Output<string>;
  /** The client secret, or the PEM certificate + key; always a secret. */
  public readonly credentialValue: pulumi.Output<string>;
  public readonly credentialExpires: pulumi.Output<string>;
  /** Every registered credential (current and, during a rotation's grace, previous). */
  public readonly credentialExpiry: pulumi.Output<CredentialExpiry[]>;

  constructor(name: string, args: MailAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:index:MailApp', name, {}, opts);
    this.application = new azuread.Application(
      `${name}-app`,
      {
        displayName: args.displayName,
        signInAudience: 'AzureADMyOrg',
        requiredResourceAccesses: requiredResourceAccessesFor(args.scoping, args.largeMessages),
        tags: ['relaykit', `relaykit-customer:${args.customerCode}`, `relaykit-scoping:${args.scoping}`],
        notes: `relaykit mail relay for ${args.customerCode}: sends as the relay sender mailboxes (${args.scoping}).`,
      },
      { parent: this },
    );
    this.servicePrincipal = new azuread.ServicePrincipal(
      `${name}-sp`,
      {
        clientId: this.application.clientId,
        tags: ['relaykit', `relaykit-scoping:${args.scoping}`],
      },
      { parent: this },
    );
    this.clientId = this.application.clientId;
    this.servicePrincipalObjectId = this.servicePrincipal.objectId;

    if (grantsTenantWide(args.scoping)) {
      // Admin consent for application permissions = an app role assignment on Graph's SP.
      const graph = azuread.getServicePrincipalOutput({ clientId: GRAPH_APP_ID }, { parent: this });
      for (const role of graphRolesFor(args.largeMessages)) {
        new azuread.AppRoleAssignment(
          `${name}-graph-${role.toLowerCase().replace('.', '-')}`,
          {
            appRoleId: GRAPH_APP_ROLES[role],
            principalObjectId: this.servicePrincipal.objectId,
            resourceObjectId: graph.objectId,
          },
          { parent: this },
        );
      }
    }

    const issued =
      args.credential === 'secret'
        ? secretCredentials(
            name,
            this,
            this.application,
            secretSlots(
              args.now,
              args.secretRotationDays,
              args.secretLifetimeDays,
              args.graceDays,
              args.certificateRotation.retirePrevious,
            ),
          )
        : certificateCredentials(
            name,
            this,
            this.application,
            `relaykit-mail-${args.customerCode}`,
            args.certificateValidityDays,
            certificateSlots(args.certificateRotation, args.graceDays, args.now),
          );
    this.credentialValue = issued.value;
    this.credentialExpires = issued.expires;
    this.credentialExpiry = issued.expiry;

    this.registerOutputs({
      clientId: this.clientId,
      servicePrincipalObjectId: this.servicePrincipalObjectId,
      credentialExpires: this.credentialExpires,
    });
  }
}

export interface ApplianceIdentityArgs {
  /** Display name of the appliance's app registration. */
  displayName: string;
  /** Certificate validity, in days. */
  certificateValidityDays: number;
  /** Generation / retire switch of the certificate (rotation with overlap). */
  certificateRotation: CertificateRotation;
  /** Days the previous certificate stays registered after a rotation. */
  graceDays: number;
  now: Date;
  /** Customer code, written into tags. */
  customerCode: string;
}

/** The edge appliance's own identity: no API permissions at all, only Key Vault Secrets User. */
export class ApplianceIdentity extends pulumi.ComponentResource {
  public readonly clientId: pulumi.Output<string>;
  public readonly servicePrincipalObjectId: pulumi.Output<string>;
  /** PEM certificate + PKCS#8 private key, written to the appliance as appliance-identity.pem. */
  public readonly pemBundle: pulumi.Output<string>;
  public readonly certificateExpires: pulumi.Output<string>;
  /** Every registered certificate (current and, during a rotation's grace, previous). */
  public readonly certificateExpiry: pulumi.Output<CredentialExpiry[]>;

  constructor(name: string, args: ApplianceIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:index:ApplianceIdentity', name, {}, opts);
    const app = new azuread.Application(
      `${name}-app`,
      {
        displayName: args.displayName,
        signInAudience: 'AzureADMyOrg',
        requiredResourceAccesses: [],
        tags: ['relaykit', `relaykit-customer:${args.customerCode}`, 'relaykit-appliance'],
        notes: 'relaykit edge appliance: reads its credentials from the relay Key Vault, nothing else.',
      },
      { parent: this },
    );
    const sp = new azuread.ServicePrincipal(
      `${name}-sp`,
      { clientId: app.clientId, tags: ['relaykit'] },
      { parent: this },
    );
    const cert = certificateCredentials(
      name,
      this,
      app,
      `relaykit-appliance-${args.customerCode}`,
      args.certificateValidityDays,
      certificateSlots(args.certificateRotation, args.graceDays, args.now),
    );
    this.clientId = app.clientId;
    this.servicePrincipalObjectId = sp.objectId;
    this.pemBundle = cert.value;
    this.certificateExpires = cert.expires;
    this.certificateExpiry = cert.expiry;
    this.registerOutputs({
      clientId: this.clientId,
      servicePrincipalObjectId: this.servicePrincipalObjectId,
      certificateExpires: this.certificateExpires,
    });
  }
}
