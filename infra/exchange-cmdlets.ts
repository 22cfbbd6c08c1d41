// infra/ room: the PowerShell vocabulary of the generated Exchange Online scripts — the cmdlets and
// parameters they may use (each from its office-docs-powershell page), the parameters a connector
// type excludes, PowerShell quoting, and a scanner that lists what a script uses so tests can hold
// the renderers to that vocabulary. Pure.

/** Parameters New-InboundConnector and Set-InboundConnector share (besides -Name / -Identity). */
const CONNECTOR_PARAMETERS = [
  'ConnectorType',
  'SenderDomains',
  'SenderIPAddresses',
  'RestrictDomainsToIPAddresses',
  'TlsSenderCertificateName',
  'RestrictDomainsToCertificate',
  'RequireTls',
  'Comment',
];

/** Cmdlets and parameters the scripts may use, each from its office-docs-powershell page. */
export const DOCUMENTED_CMDLETS: Readonly<Record<string, readonly string[]>> = {
  // Connect-ExchangeOnline.md: -DelegatedOrganization is how a partner (GDAP) technician reaches a client.
  'Connect-ExchangeOnline': ['ShowBanner', 'DelegatedOrganization'],
  // Get-ConnectionInformation.md (module v3): State, Name, UserPrincipalName, TenantID of each connection.
  'Get-ConnectionInformation': [],
  // RBAC for Applications (learn: exchange/permissions-exo/application-rbac)
  'Get-ServicePrincipal': ['Identity'],
  'New-ServicePrincipal': ['AppId', 'ObjectId', 'DisplayName'],
  'Get-Recipient': ['Identity'],
  'Get-ManagementScope': ['Identity'],
  'New-ManagementScope': ['Name', 'RecipientRestrictionFilter'],
  'Set-ManagementScope': ['Identity', 'RecipientRestrictionFilter'],
  'Get-ManagementRoleAssignment': ['Identity'],
  'New-ManagementRoleAssignment': ['Name', 'App', 'Role', 'CustomResourceScope'],
  'Set-ManagementRoleAssignment': ['Identity', 'CustomResourceScope'],
  'Remove-ManagementRoleAssignment': ['Identity'],
  'Test-ServicePrincipalAuthorization': ['Identity', 'Resource'],
  // Legacy Application Access Policy (learn: graph/auth-limit-mailbox-access)
  'Get-ApplicationAccessPolicy': [],
  'New-ApplicationAccessPolicy': ['AppId', 'PolicyScopeGroupId', 'AccessRight', 'Description'],
  'Test-ApplicationAccessPolicy': ['Identity', 'AppId'],
  // Inbound connector (New-InboundConnector.md / Set-InboundConnector.md)
  'Get-InboundConnector': ['Identity'],
  'New-InboundConnector': ['Name', ...CONNECTOR_PARAMETERS],
  'Set-InboundConnector': ['Identity', ...CONNECTOR_PARAMETERS],
  // Large messages (Set-Mailbox.md) and group expansion (Get-DistributionGroupMember.md)
  'Get-Mailbox': ['Identity'],
  'Set-Mailbox': ['Identity', 'MaxSendSize'],
  'Get-DistributionGroupMember': ['Identity', 'ResultSize'],
  // High Volume Email (New-MailUser.md)
  'Get-MailUser': ['Identity'],
  'New-MailUser': ['HVEAccount', 'Name', 'DisplayName', 'PrimarySmtpAddress', 'Password'],
  // PowerShell built-ins used for flow and output
  'Write-Host': [],
  'Write-Warning': [],
  'Where-Object': [],
  'ForEach-Object': [],
};

/** Common parameters every cmdlet accepts (about_CommonParameters) plus -Confirm. */
export const COMMON_PARAMETERS: readonly string[] = ['ErrorAction', 'WarningAction', 'Confirm', 'Verbose'];

export type ConnectorType = 'OnPremises' | 'Partner';

/**
 * Connector parameters whose New-InboundConnector text says they apply to one connector type only
 * (microsoft-mail-apis.md C1): "This parameter applies only to Partner type connectors" for the
 * three Partner switches; -TreatMessagesAsInternal is the reverse.
 */
export const CONNECTOR_TYPE_ONLY: Readonly<Record<string, ConnectorType>> = {
  RequireTls: 'Partner',
  RestrictDomainsToIPAddresses: 'Partner',
  RestrictDomainsToCertificate: 'Partner',
  TreatMessagesAsInternal: 'OnPremises',
};

/** The parameters of a connector command that do not fit its type (empty when all fit). */
export function misfitConnectorParameters(type: ConnectorType, parameters: readonly string[]): string[] {
  return parameters.filter((p) => {
    const only = CONNECTOR_TYPE_ONLY[p];
    return only !== undefined && only !== type;
  });
}

/** PowerShell single-quoted literal. PowerShell also treats ‘ ’ ‚ ‛ as quotes, so double those too. */
export function psQuote(s: string): string {
  if (/[\r\n\0]/.test(s))
    throw new Error(`refusing to quote a value with a line break or NUL: ${JSON.stringify(s)}`);
  return `'${s.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

export function psArray(items: readonly string[]): string {
  return items.map(psQuote).join(', ');
}

/** Cmdlets and parameters used by a script, for checking against DOCUMENTED_CMDLETS. */
export function cmdletUsage(script: string): Array<{ cmdlet: string; parameters: string[] }> {
  const uses: Array<{ cmdlet: string; parameters: string[] }> = [];
  for (const rawLine of script.split('\n')) {
    if (rawLine.trimStart().startsWith('#')) continue;
    // Blank out string contents so filters like "PrimarySmtpAddress -eq 'x'" are not read as code.
    const line = rawLine.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"`]|`.)*"/g, '""');
    const re = /\b([A-Z][a-z]+-[A-Z][A-Za-z]+)\b/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      const cmdlet = m[1] ?? '';
      const rest = line.slice(m.index + cmdlet.length);
      const end = rest.search(/[|;(){}]/);
      const segment = end === -1 ? rest : rest.slice(0, end);
      const parameters = [...segment.matchAll(/(?:^|\s)-([A-Za-z]+)(?=[\s:]|$)/g)].map((p) => p[1] ?? '');
      uses.push({ cmdlet, parameters });
    }
  }
  return uses;
}
