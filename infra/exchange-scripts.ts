// infra/ room: pure renderers of the Exchange Online PowerShell an operator runs after `pulumi up`
// (ExchangeOnlineManagement module). Input is plain data taken from stack outputs; output is script
// text that is safe to run again (every change is guarded by a Get-* check or is naturally
// idempotent) and that first checks it is connected to the stack's tenant (exchange-preamble.ts).
// Nothing here touches Pulumi or the network. Every cmdlet and parameter used must be in
// DOCUMENTED_CMDLETS and fit the connector type (exchange-cmdlets.ts; tests check the text).
import { type ConnectorType, misfitConnectorParameters, psArray, psQuote } from './exchange-cmdlets.ts';
import { scriptPreamble } from './exchange-preamble.ts';

export {
  COMMON_PARAMETERS,
  CONNECTOR_TYPE_ONLY,
  cmdletUsage,
  DOCUMENTED_CMDLETS,
  psQuote,
} from './exchange-cmdlets.ts';

export interface ExchangeScriptInput {
  readonly customerCode: string;
  /** The client's Entra tenant ID: every script refuses to change any other tenant. */
  readonly tenantId: string;
  /** The mail app's application (client) ID. */
  readonly appId: string;
  /** Object ID of the mail app's service principal (Enterprise application), not the app registration. */
  readonly servicePrincipalObjectId: string;
  readonly appDisplayName: string;
  readonly managementScope: string;
  readonly senderMailboxes: readonly string[];
  readonly senderGroup?: string;
  readonly largeMessages: boolean;
  readonly maxSendSizeMB: number;
  readonly connector: {
    readonly mode: 'none' | 'ip' | 'certificate';
    readonly name: string;
    readonly senderIps: readonly string[];
    readonly certificateName?: string;
  };
  readonly hve?: { readonly account: string; readonly displayName: string };
  readonly accessPolicyDescription: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function header(title: string, input: ExchangeScriptInput, notes: readonly string[]): string[] {
  return scriptPreamble({ title, customerCode: input.customerCode, tenantId: input.tenantId, notes });
}

function checkIds(input: ExchangeScriptInput): void {
  if (!GUID.test(input.appId)) throw new Error(`appId "${input.appId}" is not a GUID`);
  if (!GUID.test(input.servicePrincipalObjectId)) {
    throw new Error(`servicePrincipalObjectId "${input.servicePrincipalObjectId}" is not a GUID`);
  }
}

/** OPATH filter for the management scope: the listed mailboxes, or direct members of the group. */
export function recipientFilter(mailboxes: readonly string[]): string {
  if (mailboxes.length === 0) throw new Error('recipientFilter needs at least one mailbox');
  return mailboxes.map((m) => `PrimarySmtpAddress -eq '${m.replace(/'/g, "''")}'`).join(' -or ');
}

/** RBAC for Applications: service principal, management scope, role assignments, then a test. */
export function renderRbacForApplications(input: ExchangeScriptInput): string {
  checkIds(input);
  const roles = [['Mail.Send', true] as const, ['Mail.ReadWrite', input.largeMessages] as const];
  const lines = header('RBAC for Applications — limit the mail app to the relay sender mailboxes', input, [
    'Grants are cached 30 minutes to 2 hours; Test-ServicePrincipalAuthorization below bypasses the cache.',
    'No tenant-wide Graph consent exists for this app, so these assignments are its only mail access.',
  ]);
  lines.push(
    `$appId = ${psQuote(input.appId)}`,
    `$spObjectId = ${psQuote(input.servicePrincipalObjectId)}`,
    `$scopeName = ${psQuote(input.managementScope)}`,
    '',
    '# 1. Exchange service principal pointing at the Enterprise application (its object ID).',
    'if (-not (Get-ServicePrincipal -Identity $spObjectId -ErrorAction SilentlyContinue)) {',
    `  New-ServicePrincipal -AppId $appId -ObjectId $spObjectId -DisplayName ${psQuote(input.appDisplayName)}`,
    '}',
    '',
    '# 2. Management scope: which mailboxes the app may act on.',
  );
  if (input.senderGroup !== undefined) {
    lines.push(
      '# Direct members of the group only (nested groups are not expanded).',
      `$groupDn = (Get-Recipient -Identity ${psQuote(input.senderGroup)}).DistinguishedName`,
      `$filter = "MemberOfGroup -eq '$($groupDn -replace "'", "''")'"`,
    );
  } else {
    lines.push(`$filter = ${psQuote(recipientFilter(input.senderMailboxes))}`);
  }
  lines.push(
    'if (Get-ManagementScope -Identity $scopeName -ErrorAction SilentlyContinue) {',
    '  Set-ManagementScope -Identity $scopeName -RecipientRestrictionFilter $filter',
    '} else {',
    '  New-ManagementScope -Name $scopeName -RecipientRestrictionFilter $filter',
    '}',
    '',
    '# 3. Application roles within that scope.',
  );
  for (const [perm, wanted] of roles) {
    const name = `${input.managementScope}-${perm}`;
    if (wanted) {
      lines.push(
        `if (Get-ManagementRoleAssignment -Identity ${psQuote(name)} -ErrorAction SilentlyContinue) {`,
        `  Set-ManagementRoleAssignment -Identity ${psQuote(name)} -CustomResourceScope $scopeName`,
        '} else {',
        `  New-ManagementRoleAssignment -Name ${psQuote(name)} -App $spObjectId -Role ${psQuote(`Application ${perm}`)} -CustomResourceScope $scopeName`,
        '}',
      );
    } else {
      lines.push(
        `# Application ${perm} is not needed (large-message path off): remove it if an earlier run added it.`,
        `if (Get-ManagementRoleAssignment -Identity ${psQuote(name)} -ErrorAction SilentlyContinue) {`,
        `  Remove-ManagementRoleAssignment -Identity ${psQuote(name)} -Confirm:$false`,
        '}',
      );
    }
  }
  lines.push('', '# 4. Check: InScope must be True for every sender mailbox.');
  const probes = input.senderMailboxes.length > 0 ? input.senderMailboxes : [];
  if (probes.length > 0) {
    lines.push(
      `foreach ($mailbox in @(${psArray(probes)})) {`,
      '  Test-ServicePrincipalAuthorization -Identity $spObjectId -Resource $mailbox',
      '}',
    );
  } else {
    lines.push(
      `Get-DistributionGroupMember -Identity ${psQuote(input.senderGroup ?? '')} -ResultSize Unlimited | ForEach-Object {`,
      '  Test-ServicePrincipalAuthorization -Identity $spObjectId -Resource $_.PrimarySmtpAddress',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Legacy variant: narrows a tenant-wide Graph grant to one mail-enabled security group. */
export function renderApplicationAccessPolicy(input: ExchangeScriptInput): string {
  checkIds(input);
  if (input.senderGroup === undefined) {
    throw new Error('an Application Access Policy needs senderGroup (a mail-enabled security group)');
  }
  const lines = header(
    'Application Access Policy (legacy) — restrict the tenant-wide grant to one group',
    input,
    [
      'Microsoft is replacing Application Access Policies with RBAC for Applications; prefer that mode.',
      'Changes can take over an hour to apply. At most 300 policies per tenant.',
    ],
  );
  lines.push(
    `$appId = ${psQuote(input.appId)}`,
    `$group = ${psQuote(input.senderGroup)}`,
    '',
    '$existing = Get-ApplicationAccessPolicy | Where-Object { $_.AppId -eq $appId }',
    'if ($existing) {',
    '  Write-Host "An access policy for $appId already exists ($($existing.ScopeName)); leaving it unchanged."',
    '} else {',
    `  New-ApplicationAccessPolicy -AppId $appId -PolicyScopeGroupId $group -AccessRight RestrictAccess -Description ${psQuote(input.accessPolicyDescription)}`,
    '}',
    '',
    '# Check: AccessCheckResult must be Granted for senders and Denied for anyone else.',
  );
  for (const mailbox of input.senderMailboxes) {
    lines.push(`Test-ApplicationAccessPolicy -Identity ${psQuote(mailbox)} -AppId $appId`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Inbound connector letting the appliance relay into Exchange Online by IP or TLS certificate. It is
 * an OnPremises connector (the appliance sends for the client's own accepted domains), so only the
 * switches documented for that type are used: the source IP or certificate name alone identifies it.
 */
export function renderInboundConnector(input: ExchangeScriptInput): string {
  const c = input.connector;
  if (c.mode === 'none') throw new Error('inbound connector mode is none');
  const type: ConnectorType = 'OnPremises';
  const params: Array<readonly [string, string]> = [
    ['ConnectorType', type],
    ['SenderDomains', "'*'"],
  ];
  if (c.mode === 'ip') {
    if (c.senderIps.length === 0)
      throw new Error("an IP-authenticated connector needs the sites' public IPs");
    for (const ip of c.senderIps) {
      if (!/^\d{1,3}(\.\d{1,3}){3}(\/(2[4-9]|3[0-2]))?$/.test(ip)) {
        throw new Error(`connector sender IP "${ip}" must be IPv4, single or /24 to /32`);
      }
    }
    params.push(['SenderIPAddresses', psArray(c.senderIps)]);
  } else {
    if (c.certificateName === undefined) throw new Error('a certificate connector needs certificateName');
    params.push(['TlsSenderCertificateName', psQuote(c.certificateName)]);
  }
  params.push(['Comment', psQuote(`relaykit appliance relay for ${input.customerCode}`)]);
  const misfits = misfitConnectorParameters(
    type,
    params.map(([p]) => p),
  );
  if (misfits.length > 0) throw new Error(`-${misfits.join(', -')} do not apply to ${type} connectors`);
  const common = params.map(([p, v]) => `-${p} ${v}`).join(' ');
  const lines = header(
    `Inbound connector (${c.mode === 'ip' ? 'IP' : 'certificate'}-authenticated relay)`,
    input,
    [
      'Lets the appliance deliver to <tenant>.mail.protection.outlook.com:25 as an on-premises server;',
      'required once Set-OrganizationConfig -RejectDirectSend $true is in force. OnPremises type: the',
      'Partner-only switches (-RequireTls, -RestrictDomainsTo*) are deliberately not used.',
    ],
  );
  lines.push(
    `$name = ${psQuote(c.name)}`,
    'if (Get-InboundConnector -Identity $name -ErrorAction SilentlyContinue) {',
    `  Set-InboundConnector -Identity $name ${common}`,
    '} else {',
    `  New-InboundConnector -Name $name ${common}`,
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** Raises MaxSendSize on the sender mailboxes for the Graph large-message (upload session) path. */
export function renderMaxSendSize(input: ExchangeScriptInput): string {
  const size = `${input.maxSendSizeMB}MB`;
  const lines = header(`MaxSendSize ${size} for the relay sender mailboxes`, input, [
    'Graph upload sessions allow up to 150 MB, but a mailbox sends no more than its MaxSendSize (35 MB default).',
  ]);
  for (const mailbox of input.senderMailboxes) {
    lines.push(
      `Set-Mailbox -Identity ${psQuote(mailbox)} -MaxSendSize ${size} -WarningAction SilentlyContinue`,
    );
  }
  if (input.senderGroup !== undefined) {
    lines.push(
      `Get-DistributionGroupMember -Identity ${psQuote(input.senderGroup)} -ResultSize Unlimited | Where-Object { $_.RecipientType -eq 'UserMailbox' } | ForEach-Object {`,
      `  Set-Mailbox -Identity $_.PrimarySmtpAddress -MaxSendSize ${size} -WarningAction SilentlyContinue`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** High Volume Email account for a route that sends internal bulk mail through HVE. */
export function renderHveAccount(input: ExchangeScriptInput): string {
  if (input.hve === undefined) throw new Error('no HVE account configured');
  const lines = scriptPreamble({
    title: `High Volume Email account ${input.hve.account}`,
    customerCode: input.customerCode,
    tenantId: input.tenantId,
    notes: [
      'The password is the one stored in Key Vault (stack output hvePassword, a secret):',
      '  $pw = ConvertTo-SecureString (pulumi stack output hvePassword --show-secrets) -AsPlainText -Force',
      '  ./hve-account.ps1 -Password $pw',
      'HVE sends to internal recipients only.',
    ],
    parameters: ['[Parameter(Mandatory = $true)][SecureString]$Password'],
  });
  lines.push(
    `$account = ${psQuote(input.hve.account)}`,
    'if (Get-MailUser -Identity $account -ErrorAction SilentlyContinue) {',
    '  Write-Host "HVE account $account already exists."',
    '} else {',
    `  New-MailUser -HVEAccount -Name ${psQuote(input.hve.displayName)} -DisplayName ${psQuote(input.hve.displayName)} -PrimarySmtpAddress $account -Password $Password`,
    '}',
  );
  return `${lines.join('\n')}\n`;
}

export type MailboxScopingMode = 'rbac-for-applications' | 'application-access-policy' | 'tenant-wide';

/** Every script this tenant needs, by file name. */
export function renderExchangeScripts(
  input: ExchangeScriptInput,
  scoping: MailboxScopingMode,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (scoping === 'rbac-for-applications')
    out['rbac-for-applications.ps1'] = renderRbacForApplications(input);
  if (scoping === 'application-access-policy')
    out['application-access-policy.ps1'] = renderApplicationAccessPolicy(input);
  if (input.connector.mode !== 'none') out['inbound-connector.ps1'] = renderInboundConnector(input);
  if (input.largeMessages) out['max-send-size.ps1'] = renderMaxSendSize(input);
  if (input.hve !== undefined) out['hve-account.ps1'] = renderHveAccount(input);
  return out;
}
