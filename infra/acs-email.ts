// infra/ room: Azure Communication Services Email for one tenant — Email Communication Service,
// sender domain (customer-managed, or Azure-managed for trials), sender usernames, the
// Communication Service (Entra auth only) linked to the domain in a second phase once verified, the
// mail app's send role, an optional SMTP username, optional Azure DNS records and the verification
// trigger. Decisions (names, TXT merge, link phase) are the pure functions of acs-dns.ts.
import { createHash } from 'node:crypto';
import * as azure from '@pulumi/azure-native';
import * as pulumi from '@pulumi/pulumi';
import {
  absoluteName,
  domainTxtPlan,
  formatVerificationTable,
  linkDecision,
  txtChunks,
  type VerificationRecordsOutput,
  type VerificationRow,
  type VerificationStatesOutput,
  verificationRows,
  zoneRelativeName,
} from './acs-dns.ts';
import { DomainVerification } from './acs-verification.ts';
import type { ApexTxtMode, DomainManagementMode } from './config.ts';

/** Built-in "Communication and Email Service Owner": the narrowest built-in role that can send. */
export const ACS_SENDER_ROLE_ID = '09976791-48a7-449e-bb21-39d1a415f350';

export function roleDefinitionId(subscriptionId: string, roleId: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

export function dnsRecordSetId(
  subscriptionId: string,
  resourceGroup: string,
  zone: string,
  type: string,
  rel: string,
) {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/dnsZones/${zone}/${type}/${rel}`;
}

export interface AcsDnsArgs {
  /** Azure DNS zone holding the sending domain (same subscription). */
  zoneName: string;
  zoneResourceGroup: string;
  /** What to do with the TXT record set at the domain name (see acs-dns.ts domainTxtPlan). */
  apexTxt: ApexTxtMode;
  /** TXT values already published at the domain name (for adopt/merge/manual advice). */
  existingApexTxt: readonly string[];
}

export interface AcsEmailArgs {
  /** Resource group for the ACS resources. */
  resourceGroupName: pulumi.Input<string>;
  emailServiceName: string;
  communicationServiceName: string;
  /** Where ACS stores data at rest, e.g. "Europe". */
  dataLocation: string;
  /** customer-managed (your domain, verified by DNS) or azure-managed (*.azurecomm.net, trial limits). */
  management: DomainManagementMode;
  /** The sending domain FQDN; required for customer-managed. */
  domain?: string;
  /** MailFrom usernames to create on the domain. */
  senderUsernames: readonly string[];
  senderDisplayName: string;
  /** Phase 2 switch: link the domain to the Communication Service once verified. */
  linkDomain: boolean;
  /** The operator has published the records by hand: request verification now. */
  recordsPublished: boolean;
  /** Object ID of the mail app's service principal, given the send role. */
  senderPrincipalId: pulumi.Input<string>;
  /** The mail app's client ID (for the SMTP username). */
  entraApplicationId: pulumi.Input<string>;
  subscriptionId: string;
  tenantId: string;
  /** Create an ACS SMTP username mapping this login to the mail app. */
  smtpUsername?: string;
  /** Own DMARC record to publish ("v=DMARC1; p=none; …"), ACS usually returns none. */
  dmarcPolicy?: string;
  /** Create the records in Azure DNS. */
  dns?: AcsDnsArgs;
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
    for (const username of args.senderUsernames) {
      new azure.communication.SenderUsername(
        `${name}-sender-${username.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`,
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
    const zone = args.dns?.zoneName;
    this.verificationRecords = customer
      ? records.apply((r) => verificationRows(r, domainFqdn, zone, args.dmarcPolicy))
      : pulumi.output([]);
    this.verificationTable = this.verificationRecords.apply((rows) =>
      rows.length === 0 ? '(Azure-managed domain: no DNS records to publish)' : formatVerificationTable(rows),
    );

    // DNS records in Azure DNS (optional). Which record sets exist is decided from config alone;
    // only their names/values come from the domain's outputs (no resources inside apply).
    const dnsResources: pulumi.Resource[] = [];
    let txtManaged = false;
    let dnsNotes: pulumi.Output<string[]> = pulumi.output(
      customer
        ? [
            'no Azure DNS zone is configured: publish the records of acsVerificationTable yourself, ' +
              'then set acsRecordsPublished to true and run pulumi up to request verification',
          ]
        : [],
    );
    if (customer && args.dns !== undefined) {
      const dns = args.dns;
      const txtRel = zoneRelativeName(domainFqdn, dns.zoneName);
      const plan = records.apply((r) =>
        domainTxtPlan(
          dns.apexTxt,
          dns.existingApexTxt,
          [r?.domain?.value, r?.sPF?.value].filter((v): v is string => typeof v === 'string' && v !== ''),
        ),
      );
      dnsNotes = plan.apply((p) => p.notes);
      const planNow = domainTxtPlan(dns.apexTxt, dns.existingApexTxt, []);
      if (planNow.manage) {
        txtManaged = true;
        dnsResources.push(
          new azure.dns.RecordSet(
            `${name}-txt`,
            {
              resourceGroupName: dns.zoneResourceGroup,
              zoneName: dns.zoneName,
              relativeRecordSetName: txtRel,
              recordType: 'TXT',
              ttl: 3600,
              txtRecords: plan.apply((p) => p.values.map((v) => ({ value: txtChunks(v) }))),
            },
            {
              parent: this,
              ...(planNow.importExisting
                ? {
                    import: dnsRecordSetId(
                      args.subscriptionId,
                      dns.zoneResourceGroup,
                      dns.zoneName,
                      'TXT',
                      txtRel,
                    ),
                  }
                : {}),
            },
          ),
        );
      }
      for (const [kind, key] of [
        ['dkim', 'dKIM'],
        ['dkim2', 'dKIM2'],
      ] as const) {
        const rec = records.apply((r) => r?.[key]);
        dnsResources.push(
          new azure.dns.RecordSet(
            `${name}-${kind}`,
            {
              resourceGroupName: dns.zoneResourceGroup,
              zoneName: dns.zoneName,
              relativeRecordSetName: rec.apply((x) =>
                zoneRelativeName(absoluteName(x?.name ?? `${kind}`, domainFqdn), dns.zoneName),
              ),
              recordType: 'CNAME',
              ttl: 3600,
              cnameRecord: { cname: rec.apply((x) => x?.value ?? '') },
            },
            { parent: this },
          ),
        );
      }
      if (args.dmarcPolicy !== undefined) {
        // Fails (never overwrites) if a _dmarc record set already exists: azure-native refuses to
        // create over an existing record set.
        dnsResources.push(
          new azure.dns.RecordSet(
            `${name}-dmarc`,
            {
              resourceGroupName: dns.zoneResourceGroup,
              zoneName: dns.zoneName,
              relativeRecordSetName: zoneRelativeName(`_dmarc.${domainFqdn}`, dns.zoneName),
              recordType: 'TXT',
              ttl: 3600,
              txtRecords: [{ value: txtChunks(args.dmarcPolicy) }],
            },
            { parent: this },
          ),
        );
      }
    }
    this.dnsNotes = dnsNotes;

    // Verification trigger: only once the records can be there (managed here, or published by hand).
    if (customer && (args.recordsPublished || txtManaged)) {
      const token = azure.authorization.getClientTokenOutput({}, { parent: this });
      new DomainVerification(
        `${name}-verify`,
        {
          domainId: domain.id,
          kinds:
            args.dmarcPolicy === undefined
              ? ['Domain', 'SPF', 'DKIM', 'DKIM2']
              : ['Domain', 'SPF', 'DKIM', 'DKIM2', 'DMARC'],
          armToken: token.token,
          recordsDigest: this.verificationRecords.apply((rows) =>
            createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16),
          ),
        },
        { parent: this, dependsOn: dnsResources },
      );
    }

    const link = pulumi
      .all([domain.id, domain.verificationStates as pulumi.Output<VerificationStatesOutput | undefined>])
      .apply(([id, states]) =>
        linkDecision({ management: args.management, linkDomain: args.linkDomain, domainId: id, states }),
      );
    this.linkStatus = link.apply((l) => l.reason);

    const acs = new azure.communication.CommunicationService(
      `${name}-acs`,
      {
        resourceGroupName: args.resourceGroupName,
        communicationServiceName: args.communicationServiceName,
        location: 'global',
        dataLocation: args.dataLocation,
        linkedDomains: link.apply((l) => l.linkedDomains),
        // Entra tokens only: no access keys to leak or rotate.
        disableLocalAuth: true,
        tags: args.tags,
      },
      { parent: this },
    );
    new azure.authorization.RoleAssignment(
      `${name}-sender-role`,
      {
        principalId: args.senderPrincipalId,
        principalType: 'ServicePrincipal',
        roleDefinitionId: roleDefinitionId(args.subscriptionId, ACS_SENDER_ROLE_ID),
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
    this.senderAddresses = domain.fromSenderDomain.apply((d) => args.senderUsernames.map((u) => `${u}@${d}`));
    this.registerOutputs({
      domainId: this.domainId,
      endpoint: this.endpoint,
      senderAddresses: this.senderAddresses,
      verificationTable: this.verificationTable,
      linkStatus: this.linkStatus,
    });
  }
}
