// infra/ room: the two Entra applications of a tenant. MailApp is what the appliance sends as (Graph
// Mail.Send, ACS): by default it gets NO tenant-wide Graph grant and Exchange RBAC for Applications
// scopes it to named mailboxes (exchange-scripts.ts). ApplianceIdentity is a separate app with a
// certificate that may only read the vault's secrets. Pure helpers (permission IDs, rotation window)
// are exported for tests; the components only wire resources.
import * as azuread from '@pulumi/azuread';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import type { MailboxScoping, MailCredential } from './config.ts';

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

const DAY = 86_400_000;

/**
 * Deterministic client-secret window. Time is cut into fixed periods of `rotationDays` (counted from
 * the Unix epoch); the secret of a period expires `lifetimeDays` after the period starts. Every
 * `pulumi up` within a period yields the same inputs (no diff); the first run in a new period
 * replaces the secret. As long as someone runs `pulumi up` at least every rotationDays, a valid
 * secret always exists (lifetime > rotation is enforced by config.ts).
 */
export function rotationWindow(
  now: Date,
  rotationDays: number,
  lifetimeDays: number,
): { periodStart: string; endDate: string } {
  const period = rotationDays * DAY;
  const start = Math.floor(now.getTime() / period) * period;
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return { periodStart: iso(start), endDate: iso(start + lifetimeDays * DAY) };
}

interface CertificateCredential {
  readonly certPem: pulumi.Output<string>;
  /** PEM certificate followed by the PKCS#8 private key (what msal-node and the bundle take). */
  readonly pemBundle: pulumi.Output<string>;
  readonly endDate: pulumi.Output<string>;
}

/** Key + self-signed certificate + the certificate registered on the application. */
function certificateCredential(
  name: string,
  parent: pulumi.Resource,
  application: azuread.Application,
  commonName: string,
  validityDays: number,
): CertificateCredential {
  const key = new tls.PrivateKey(`${name}-key`, { algorithm: 'RSA', rsaBits: 3072 }, { parent });
  const cert = new tls.SelfSignedCert(
    `${name}-cert`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName },
      validityPeriodHours: validityDays * 24,
      // Replaced on the first `pulumi up --refresh` in the last 30 days (or last quarter) of its life.
      earlyRenewalHours: Math.min(30, Math.floor(validityDays / 4)) * 24,
      allowedUses: ['digital_signature', 'client_auth'],
    },
    { parent },
  );
  new azuread.ApplicationCertificate(
    `${name}-cert-credential`,
    {
      applicationId: application.id,
      type: 'AsymmetricX509Cert',
      encoding: 'pem',
      value: cert.certPem,
      endDate: cert.validityEndTime,
    },
    { parent },
  );
  return {
    certPem: cert.certPem,
    pemBundle: pulumi.secret(
      pulumi
        .all([cert.certPem, key.privateKeyPemPkcs8])
        .apply(([c, k]) => `${c.trimEnd()}\n${k.trimEnd()}\n`),
    ),
    endDate: cert.validityEndTime,
  };
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
  /** "Now" for the rotation window; injected so runs and tests are reproducible. */
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

    if (args.credential === 'secret') {
      const window = rotationWindow(args.now, args.secretRotationDays, args.secretLifetimeDays);
      const password = new azuread.ApplicationPassword(
        `${name}-secret`,
        {
          applicationId: this.application.id,
          displayName: `relaykit ${window.periodStart.slice(0, 10)}`,
          endDate: window.endDate,
          rotateWhenChanged: { rotationPeriod: window.periodStart },
        },
        { parent: this },
      );
      this.credentialValue = pulumi.secret(password.value);
      this.credentialExpires = password.endDate;
    } else {
      const cert = certificateCredential(
        name,
        this,
        this.application,
        `relaykit-mail-${args.customerCode}`,
        args.certificateValidityDays,
      );
      this.credentialValue = cert.pemBundle;
      this.credentialExpires = cert.endDate;
    }

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
    const cert = certificateCredential(
      name,
      this,
      app,
      `relaykit-appliance-${args.customerCode}`,
      args.certificateValidityDays,
    );
    this.clientId = app.clientId;
    this.servicePrincipalObjectId = sp.objectId;
    this.pemBundle = cert.pemBundle;
    this.certificateExpires = cert.endDate;
    this.registerOutputs({
      clientId: this.clientId,
      servicePrincipalObjectId: this.servicePrincipalObjectId,
      certificateExpires: this.certificateExpires,
    });
  }
}
