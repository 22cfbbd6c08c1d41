// infra/ room: the opening of every generated Exchange Online script — comments saying what it is
// and who runs it, a param block (so a partner technician can pass -DelegatedOrganization), and the
// tenant check: before any change the script makes sure every connected Exchange Online session
// belongs to the stack's tenant (Get-ConnectionInformation's TenantID), connecting first if there
// is none, and stops with a message naming both tenants otherwise. Pure.
import { psQuote } from './exchange-cmdlets.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PreambleInput {
  readonly title: string;
  readonly customerCode: string;
  /** The client's Entra tenant ID. */
  readonly tenantId: string;
  readonly notes: readonly string[];
  /** Extra script parameters, PowerShell text (e.g. "[SecureString]$Password"). */
  readonly parameters?: readonly string[];
}

/** Script lines up to and including the tenant check; the caller appends the changes. */
export function scriptPreamble(p: PreambleInput): string[] {
  if (!GUID.test(p.tenantId)) throw new Error(`tenantId "${p.tenantId}" is not a GUID`);
  const tenant = p.tenantId.toLowerCase();
  const params = ['[string]$DelegatedOrganization', ...(p.parameters ?? [])];
  return [
    '#Requires -Modules ExchangeOnlineManagement',
    `# relaykit (${p.customerCode}): ${p.title}`,
    '# Generated from the Pulumi stack outputs; do not edit, re-render with `npm run plan` or',
    '# `pulumi stack output exchangeScripts`. Safe to run more than once.',
    '# Needs: Exchange Online Organization Management, or the Entra Exchange Administrator role.',
    `# Runs only against tenant ${tenant}: it connects if no session exists and stops before any`,
    '# change when a session belongs to another tenant. Partner (GDAP) technicians add',
    '# -DelegatedOrganization <client>.onmicrosoft.com.',
    ...p.notes.map((n) => `# ${n}`),
    '[CmdletBinding()]',
    `param(${params.join(', ')})`,
    "$ErrorActionPreference = 'Stop'",
    '',
    '# 0. Tenant check: every change below goes to the tenant this session is connected to.',
    `$expectedTenantId = ${psQuote(tenant)}`,
    "$exo = { @(Get-ConnectionInformation | Where-Object { $_.State -eq 'Connected' -and $_.Name -like 'ExchangeOnline_*' }) }",
    '$sessions = & $exo',
    'if ($sessions.Count -eq 0) {',
    '  if ($DelegatedOrganization) {',
    '    Connect-ExchangeOnline -ShowBanner:$false -DelegatedOrganization $DelegatedOrganization',
    '  } else {',
    '    Connect-ExchangeOnline -ShowBanner:$false',
    '  }',
    '  $sessions = & $exo',
    '}',
    '$foreign = @($sessions | Where-Object { "$($_.TenantID)" -ne $expectedTenantId })',
    'if ($sessions.Count -eq 0 -or $foreign.Count -gt 0) {',
    `  $seen = ($sessions | ForEach-Object { "$($_.UserPrincipalName) in tenant $($_.TenantID)" }) -join '; '`,
    `  throw "relaykit (${p.customerCode}): this script is for tenant $expectedTenantId, but Exchange Online is connected as: $seen. Nothing was changed. Run Disconnect-ExchangeOnline -Confirm:\`$false and start the script again (partners: -DelegatedOrganization <client>.onmicrosoft.com)."`,
    '}',
    'Write-Host "Exchange Online tenant $expectedTenantId confirmed ($($sessions[0].UserPrincipalName))."',
    '',
  ];
}
