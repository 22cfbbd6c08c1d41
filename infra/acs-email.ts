// infra/ room: Azure Communication Services Email for one tenant — Email Communication Service,
// sender domain (customer-managed, or Azure-managed for trials), the stack's own sender usernames
// (never ACS's DoNotReply), the Communication Service (Entra auth only), the additive domain link
// (acs-link.ts) once verified, a custom least-privilege sending role for the mail app, an optional
// SMTP username, the records in Azure DNS (acs-dns-records.ts), the verification trigger
// (acs-verification.ts), delete locks and diagnostics. Decisions live in pure functions (acs-dns.ts).
import { createHash } from 'node:crypto';
import * as azure from '@pulumi/azure-native';
import * as pulumi from '@pulumi/pulumi';
import {
  formatVerificationTable,
  VERIFICATION_KINDS,
  type VerificationRecordsOutput,
  type VerificationRow,
  type VerificationStatesOutput,
  verificationRows,
} from './acs-dns.ts';
import { type AcsDnsArgs, acsDnsRecords } from './acs-dns-records.ts';
import { DomainLink } from './acs-link.ts';
import { DomainVerification } from './acs-verification.ts';
import { senderSlug } from './config-checks.ts';
import type { DomainManagementMode } from './config-keys.ts';
import { deleteLock, diagnostics } from './guardrails.ts';
import { guidFrom } from './naming.ts';

export { type AcsDnsArgs, dnsRecordSetId } from './acs-dns-records.ts';

/**
 * What sending needs and nothing more (learn: ACS smtp-authentication, "Creating a custom email role
 * for the Microsoft Entra application"): read and write on the Communication Service and write on the
 * Email Service. Narrower than the built-in Communication and Email Service Owner (Microsoft.Communication/*).
 */
export const ACS_SENDER_ACTIONS = [
  'Microsoft.Communication/CommunicationServices/Read',
  'Microsoft.Communication/CommunicationServices/Write',
  'Microsoft.Communication/EmailServices/write',
] as const;

export function roleDefinitionId(subscriptionId: string, roleId: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

/** Per verification type: the domain's state, and the last request's answer when one was made. */
export function verificationStatus(
  kinds: readonly string[],
  states: VerificationStatesOutput | undefined,
  results: Record<string, string> | undefined,
): string[] {
  const key = { Domain: 'domain', SPF: 'sPF', DKIM: 'dKIM', DKIM2: 'dKIM2', DMARC: 'dMARC' } as const;
  return kinds.map((k) => {
    const status = states?.[key[k as keyof typeof key]]?.status ?? 'unknown';
    const last = results?.[k];
    return `${k}: ${status}${last === undefined ? '' : ` (last request: ${last})`}`;
  });
}

export interface AcsEmailArgs {
  /** Resource group for the ACS resources (name and ARM ID: the custom role is assignable there). */
  resourceGroupName: pulumi.Input<string>;
  resourceGroupId: pulumi.Input<string>;
  emailServiceName: string;
  communicationServiceName: string;
  /** Where ACS stores data at rest, e.g. "Europe". */
  dataLocation: string;
  /** customer-managed (your domain, verified by DNS) or azure-managed (*.azurecomm.net, trial limits). */
  management: DomainManagementMode;
  /** The sending domain FQDN; required for customer-managed. */
  domain?: string;
  /** MailFrom usernames to create on the domain (config.ts refuses donotreply). */
  senderUsernames: readonly string[];
  senderDisplayName: string;
  /** Phase 2 switch: link the domain to the Communication Service once verified. */
  linkDomain: boolean;
  /** The operator has published the records by hand: request verification now. */
  recordsPublished: boolean;
  /** Object ID of the mail app's service principal, given the sending role. */
  senderPrincipalId: pulumi.Input<string>;
  /** The mail app's client ID (for the SMTP username). */
  entraApplicationId: pulumi.Input<string>;
  subscriptionId: string;
  tenantId: string;
  customerCode: string;
  /** Create an ACS SMTP username mapping this login to the mail app. */
  smtpUsername?: string;
  /** Own DMARC record to publish ("v=DMARC1; p=none; …"), ACS usually returns none. */
  dmarcPolicy?: string;
  /** Create the records in Azure DNS. */
  dns?: AcsDnsArgs;
  /** CanNotDelete locks on the services and the shared TXT record sets. */
  locks: boolean;
  /** Log Analytics workspace for the Communication Service's logs. */
  diagnosticsWorkspaceId: pulumi.Input<string>;
  tags: Record<string, string>;
}

export class AcsEmail extends pulumi.ComponentResource {
  public readonly domainId: pulumi.Output<string>;
  public readonly communicationServiceId: pulumi.Output<string>;
  /** https://<name>.<geo>.communication.azure.com */
  public readonly endpoint: pulumi.Output<string>;
  public readonly senderDomain: pulumi.Output<string>;
  public readonly senderAddresses: pulumi.Output<string[]>;
  public readonly verificationRecords: pulumi.Output<VerificationRow[]>;
  public readonly verificationTable: pulumi.Output<string>;
  /** One line per verification type: state and last request. */
  public readonly verificationStatus: pulumi.Output<string[]>;
  public readonly linkStatus: pulumi.Output<string>;
  public readonly dnsNotes: pulumi.Output<string[]>;

  constructor(name: string, args: AcsEmailArgs, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:index:AcsEmail', name, {}, opts);
    const customer = args.management === 'customer-managed';
    if (customer && args.domain === undefined)
      throw new Error('AcsEmail: domain is required when customer-managed');
    const domainFqdn = args.domain ?? '';

    const emailService = new azure.communication.EmailService(
      `${name}-email`,
      {
        resourceGroupName: args.resourceGroupName,
        emailServiceName: args.emailServiceName,
        location: 'global',
        dataLocation: args.dataLocation,
        tags: args.tags,
      },
      { parent: this },
    );
    const domain = new azure.communication.Domain(
      `${name}-domain`,
      {
        resourceGroupName: args.resourceGroupName,
        emailServiceName: emailService.name,
        domainName: customer ? domainFqdn : 'AzureManagedDomain',
        domainManagement: customer ? 'CustomerManaged' : 'AzureManaged',
        location: 'global',
        // Open/click tracking rewrites links and adds pixels: off for relayed device mail.
        userEngagementTracking: 'Disabled',
        tags: args.tags,
      },
      { parent: this },
    );
    // ACS adds DoNotReply itself; only the stack's own senders are resources here.
    for (const username of args.senderUsernames) {
      new azure.communication.SenderUsername(
        `${name}-sender-${senderSlug(username)}`,
        {
          resourceGroupName: args.resourceGroupName,
          emailServiceName: emailService.name,
          domainName: domain.name,
          senderUsername: username,
          username,
          displayName: args.senderDisplayName,
        },
        { parent: this },
      );
    }

    const records = domain.verificationRecords as pulumi.Output<VerificationRecordsOutput | undefined>;
    const states = domain.verificationStates as pulumi.Output<VerificationStatesOutput | undefined>;
    const zone = args.dns?.zoneName;
    this.verificationRecords = customer
      ? records.apply((r) => verificationRows(r, domainFqdn, zone, args.dmarcPolicy))
      : pulumi.output([]);
    this.verificationTable = this.verificationRecords.apply((rows) =>
      rows.length === 0 ? '(Azure-managed domain: no DNS records to publish)' : formatVerificationTable(rows),
    );

    const dnsRecords =
      customer && args.dns !== undefined
        ? acsDnsRecords(name, this, {
            dns: args.dns,
            domainFqdn,
            records,
            ...(args.dmarcPolicy === undefined ? {} : { dmarcPolicy: args.dmarcPolicy }),
            subscriptionId: args.subscriptionId,
            lock: args.locks,
          })
        : undefined;
    this.dnsNotes =
      dnsRecords?.notes ??
      pulumi.output(
        customer
          ? [
              'no Azure DNS zone is configured: publish the records of acsVerificationTable at your DNS host, ' +
                'then set acsRecordsPublished to true and run pulumi up to request verification',
            ]
          : [],
      );

    // Verification: only once the records can be there (managed here, or published by hand).
    const kinds = VERIFICATION_KINDS.filter((k) => k !== 'DMARC' || args.dmarcPolicy !== undefined);
    let verify: DomainVerification | undefined;
    if (customer && (args.recordsPublished || dnsRecords?.txtManaged === true)) {
      verify = new DomainVerification(
        `${name}-verify`,
        {
          domainId: domain.id,
          tenantId: args.tenantId,
          kinds: [...kinds],
          // Asked again on every run while a record reads NotStarted or VerificationFailed.
          retryKinds: states.apply((st) =>
            kinds.filter((k) =>
              /: (NotStarted|VerificationFailed)$/.test(verificationStatus([k], st, undefined)[0] ?? ''),
            ),
          ),
          recordsDigest: this.verificationRecords.apply((rows) =>
            createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16),
          ),
        },
        { parent: this, dependsOn: dnsRecords?.resources ?? [] },
      );
    }
    this.verificationStatus = customer
      ? pulumi
          .all([states, verify?.results ?? pulumi.output(undefined)])
          .apply(([st, res]) => verificationStatus(kinds, st, res))
      : pulumi.output(['Azure-managed domain: verified by Azure']);

    const acs = new azure.communication.CommunicationService(
      `${name}-acs`,
      {
        resourceGroupName: args.resourceGroupName,
        communicationServiceName: args.communicationServiceName,
        location: 'global',
        dataLocation: args.dataLocation,
        // Entra tokens only: no access keys to leak or rotate.
        disableLocalAuth: true,
        tags: args.tags,
      },
      // The link is DomainLink's (additive); links made outside the stack must survive every run.
      { parent: this, ignoreChanges: ['linkedDomains'] },
    );
    if (args.locks) {
      deleteLock(`${name}-email`, emailService.id, 'the ACS Email service and its domain', this);
      deleteLock(`${name}-acs`, acs.id, 'the Communication Service', this);
    }
    diagnostics(`${name}-acs`, acs.id, args.diagnosticsWorkspaceId, 'allLogs', this);

    if (args.linkDomain || !customer) {
      const link = new DomainLink(
        `${name}-link`,
        { communicationServiceId: acs.id, domainId: domain.id, tenantId: args.tenantId },
        { parent: this, dependsOn: verify === undefined ? [] : [verify] },
      );
      this.linkStatus = link.status.apply((s) => s ?? 'phase 2: link requested');
    } else {
      this.linkStatus = pulumi.output(
        customer
          ? 'phase 1: publish the records, verify, then set acsLinkDomain true'
          : 'azure-managed domain',
      );
    }

    const roleId = guidFrom(`relaykit-acs-sender/${args.subscriptionId}/${args.customerCode}`);
    const senderRole = new azure.authorization.RoleDefinition(
      `${name}-sender-role-definition`,
      {
        scope: args.resourceGroupId,
        roleDefinitionId: roleId,
        roleName: `relaykit ACS sender (${args.customerCode})`,
        description: "relaykit: send mail through this resource group's Communication Service, nothing else",
        permissions: [
          { actions: [...ACS_SENDER_ACTIONS], notActions: [], dataActions: [], notDataActions: [] },
        ],
        assignableScopes: [args.resourceGroupId],
      },
      { parent: this },
    );
    new azure.authorization.RoleAssignment(
      `${name}-sender-role`,
      {
        principalId: args.senderPrincipalId,
        principalType: 'ServicePrincipal',
        roleDefinitionId: senderRole.id,
        scope: acs.id,
        description: 'relaykit mail app sends through ACS Email',
      },
      { parent: this },
    );
    if (args.smtpUsername !== undefined) {
      new azure.communication.SmtpUsername(
        `${name}-smtp-username`,
        {
          resourceGroupName: args.resourceGroupName,
          communicationServiceName: acs.name,
          smtpUsername: args.smtpUsername.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
          username: args.smtpUsername,
          entraApplicationId: args.entraApplicationId,
          tenantId: args.tenantId,
        },
        { parent: this },
      );
    }

    this.domainId = domain.id;
    this.communicationServiceId = acs.id;
    this.endpoint = pulumi.interpolate`https://${acs.hostName}`;
    this.senderDomain = domain.fromSenderDomain;
    // No own senders: send as the DoNotReply ACS created on the domain (not managed here).
    this.senderAddresses = domain.fromSenderDomain.apply((d) =>
      args.senderUsernames.length === 0 ? [`DoNotReply@${d}`] : args.senderUsernames.map((u) => `${u}@${d}`),
    );
    this.registerOutputs({
      domainId: this.domainId,
      endpoint: this.endpoint,
      senderAddresses: this.senderAddresses,
      verificationTable: this.verificationTable,
      verificationStatus: this.verificationStatus,
      linkStatus: this.linkStatus,
    });
  }
}
