// Exchange Online script renderers: snapshot of every script, every cmdlet/parameter from the
// documented list, quoting that cannot be broken out of, and refusals of bad input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONNECTOR_TYPE_ONLY,
  cmdletUsage,
  type ExchangeScriptInput,
  psQuote,
  recipientFilter,
  renderApplicationAccessPolicy,
  renderExchangeScripts,
  renderHveAccount,
  renderInboundConnector,
  renderMaxSendSize,
  renderRbacForApplications,
} from '../../infra/exchange-scripts.ts';

/**
 * Cmdlets and parameters as documented, written here from the reference pages and not read from the
 * renderer's own list (a parameter added to both would otherwise pass). Sources: MicrosoftDocs/
 * office-docs-powershell `exchange/exchange-ps/ExchangeOnlineManagement/<Cmdlet>.md` for each cmdlet;
 * learn.microsoft.com exchange/permissions-exo/application-rbac and graph/auth-limit-mailbox-access for
 * the RBAC and access-policy flows; ../shared/reference/microsoft-mail-apis.md A7, C1, C3.
 */
/** Settings New-InboundConnector and Set-InboundConnector share (their pages list the same ones). */
const CONNECTOR_SETTINGS = [
  'ConnectorType',
  'SenderDomains',
  'SenderIPAddresses',
  'RestrictDomainsToIPAddresses',
  'TlsSenderCertificateName',
  'RestrictDomainsToCertificate',
  'RequireTls',
  'Comment',
];

const DOCUMENTED: Readonly<Record<string, readonly string[]>> = {
  // Connect-ExchangeOnline.md: [[-DelegatedOrganization] <String>] is the partner (GDAP) switch.
  'Connect-ExchangeOnline': ['ShowBanner', 'DelegatedOrganization'],
  'Get-ConnectionInformation': [],
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
  'Get-ApplicationAccessPolicy': [],
  'New-ApplicationAccessPolicy': ['AppId', 'PolicyScopeGroupId', 'AccessRight', 'Description'],
  'Test-ApplicationAccessPolicy': ['Identity', 'AppId'],
  'Get-InboundConnector': ['Identity'],
  'New-InboundConnector': ['Name', ...CONNECTOR_SETTINGS],
  'Set-InboundConnector': ['Identity', ...CONNECTOR_SETTINGS],
  'Get-Mailbox': ['Identity'],
  'Set-Mailbox': ['Identity', 'MaxSendSize'],
  'Get-DistributionGroupMember': ['Identity', 'ResultSize'],
  'Get-MailUser': ['Identity'],
  'New-MailUser': ['HVEAccount', 'Name', 'DisplayName', 'PrimarySmtpAddress', 'Password'],
  // PowerShell built-ins (Microsoft.PowerShell.Utility / Core), used without parameters.
  'Write-Host': [],
  'Write-Warning': [],
  'Where-Object': [],
  'ForEach-Object': [],
};

/** about_CommonParameters, plus -Confirm (about_Functions_CmdletBindingAttribute, SupportsShouldProcess). */
const COMMON = ['ErrorAction', 'WarningAction', 'Confirm', 'Verbose'];

const base: ExchangeScriptInput = {
  customerCode: 'fabrikam',
  tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90',
  appId: 'd2a6baf7-bd75-460f-aa6b-77afdb8da470',
  servicePrincipalObjectId: '56150698-7178-4cf3-a98f-44d30f99cb75',
  appDisplayName: 'relaykit mail (fabrikam)',
  managementScope: 'relaykit-fabrikam-senders',
  senderMailboxes: ['scanner@fabrikam.com', "o'brien@fabrikam.com"],
  largeMessages: true,
  maxSendSizeMB: 100,
  connector: {
    mode: 'ip',
    name: 'relaykit appliance (fabrikam)',
    senderIps: ['203.0.113.10', '198.51.100.0/24'],
  },
  hve: { account: 'hve-scan@fabrikam.com', displayName: 'relaykit HVE (fabrikam)' },
  accessPolicyDescription: 'relaykit (fabrikam): mail app may only send as the relay senders',
};

const variants: Record<string, string> = {
  'rbac-for-applications (mailboxes, large messages)': renderRbacForApplications(base),
  'rbac-for-applications (group, no large messages)': renderRbacForApplications({
    ...base,
    senderMailboxes: [],
    senderGroup: 'relay-senders@fabrikam.com',
    largeMessages: false,
  }),
  'application-access-policy': renderApplicationAccessPolicy({
    ...base,
    senderGroup: 'relay-senders@fabrikam.com',
  }),
  'inbound-connector (ip)': renderInboundConnector(base),
  'inbound-connector (certificate)': renderInboundConnector({
    ...base,
    connector: {
      mode: 'certificate',
      name: 'relaykit appliance (fabrikam)',
      senderIps: [],
      certificateName: 'relay.fabrikam.com',
    },
  }),
  'max-send-size (mailboxes and group)': renderMaxSendSize({
    ...base,
    senderGroup: 'relay-senders@fabrikam.com',
  }),
  'hve-account': renderHveAccount(base),
};

describe('rendered scripts', () => {
  for (const [name, script] of Object.entries(variants)) {
    it(`${name} matches its snapshot`, () => {
      expect(script).toMatchSnapshot();
    });
  }

  it('use only documented cmdlets and parameters', () => {
    for (const [name, script] of Object.entries(variants)) {
      const uses = cmdletUsage(script);
      expect(uses.length, name).toBeGreaterThan(2);
      for (const { cmdlet, parameters } of uses) {
        const allowed = DOCUMENTED[cmdlet];
        expect(allowed, `${name}: ${cmdlet} is not a documented cmdlet`).toBeDefined();
        for (const p of parameters) {
          expect([...(allowed ?? []), ...COMMON], `${name}: ${cmdlet} -${p}`).toContain(p);
        }
      }
    }
  });

  it('the usage scanner sees cmdlets and parameters, not filter text or operators', () => {
    expect(
      cmdletUsage(
        "$f = 'PrimarySmtpAddress -eq ''a@b'''\nif (-not (Get-Mailbox -Identity $x -ErrorAction SilentlyContinue)) { Set-Mailbox -Identity $x -MaxSendSize 35MB }\nGet-ApplicationAccessPolicy | Where-Object { $_.AppId -eq $appId }",
      ),
    ).toEqual([
      { cmdlet: 'Get-Mailbox', parameters: ['Identity', 'ErrorAction'] },
      { cmdlet: 'Set-Mailbox', parameters: ['Identity', 'MaxSendSize'] },
      { cmdlet: 'Get-ApplicationAccessPolicy', parameters: [] },
      { cmdlet: 'Where-Object', parameters: [] },
    ]);
  });

  it('guard every creation with a lookup (idempotent)', () => {
    const rbac = variants['rbac-for-applications (mailboxes, large messages)'] ?? '';
    for (const [get, create] of [
      ['Get-ServicePrincipal', 'New-ServicePrincipal'],
      ['Get-ManagementScope', 'New-ManagementScope'],
      ['Get-ManagementRoleAssignment', 'New-ManagementRoleAssignment'],
    ]) {
      expect(rbac.indexOf(get as string)).toBeGreaterThan(-1);
      expect(rbac.indexOf(get as string)).toBeLessThan(rbac.indexOf(create as string));
    }
  });

  it('removes Mail.ReadWrite when large messages are off', () => {
    const s = renderRbacForApplications({ ...base, largeMessages: false });
    expect(s).toContain(
      "Remove-ManagementRoleAssignment -Identity 'relaykit-fabrikam-senders-Mail.ReadWrite' -Confirm:$false",
    );
    expect(s).not.toContain("-Role 'Application Mail.ReadWrite'");
  });

  it('renders the set of scripts a configuration needs', () => {
    expect(Object.keys(renderExchangeScripts(base, 'rbac-for-applications'))).toEqual([
      'rbac-for-applications.ps1',
      'inbound-connector.ps1',
      'max-send-size.ps1',
      'hve-account.ps1',
    ]);
    const { hve: _hve, ...noHve } = base;
    expect(
      Object.keys(
        renderExchangeScripts(
          { ...noHve, largeMessages: false, connector: { ...base.connector, mode: 'none' } },
          'tenant-wide',
        ),
      ),
    ).toEqual([]);
  });
});

// Issue 16 defect 5: a technician connected to the wrong client must not change that client.
describe('tenant check', () => {
  for (const [name, script] of Object.entries(variants)) {
    it(`${name} checks the connected tenant before its first change`, () => {
      const lines = script.split('\n');
      const check = lines.indexOf("$expectedTenantId = '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90'");
      expect(check).toBeGreaterThan(-1);
      expect(lines).toContain(
        '$foreign = @($sessions | Where-Object { "$($_.TenantID)" -ne $expectedTenantId })',
      );
      const stop = lines.findIndex((l) =>
        l.startsWith('  throw "relaykit (fabrikam): this script is for tenant'),
      );
      expect(stop).toBeGreaterThan(check);
      // param() must be the first statement (PowerShell rule); the partner switch is always there.
      const code = lines.filter((l) => l.trim() !== '' && !l.startsWith('#'));
      expect(code[0]).toBe('[CmdletBinding()]');
      expect(code[1]).toMatch(/^param\(\[string\]\$DelegatedOrganization/);
      // Every cmdlet that changes something comes after the check.
      const firstChange = lines.findIndex((l) =>
        cmdletUsage(l).some((u) => /^(New|Set|Remove)-/.test(u.cmdlet)),
      );
      expect(firstChange).toBeGreaterThan(stop);
    });
  }
  it('connects with -DelegatedOrganization for partner sessions', () => {
    expect(renderRbacForApplications(base)).toContain(
      '    Connect-ExchangeOnline -ShowBanner:$false -DelegatedOrganization $DelegatedOrganization',
    );
  });
  it('refuses a tenant ID that is not a GUID', () => {
    expect(() => renderMaxSendSize({ ...base, tenantId: 'fabrikam.onmicrosoft.com' })).toThrow(
      'tenantId "fabrikam.onmicrosoft.com" is not a GUID',
    );
  });
});

// Issue 16 defect 4: -RequireTls, -RestrictDomainsToIPAddresses and -RestrictDomainsToCertificate
// "apply only to Partner type connectors" (New-InboundConnector.md); the appliance's is OnPremises.
describe('connector switches fit the connector type', () => {
  for (const name of ['inbound-connector (ip)', 'inbound-connector (certificate)']) {
    it(`${name} uses no switch of the other connector type`, () => {
      const uses = cmdletUsage(variants[name] ?? '').filter((u) => /-InboundConnector$/.test(u.cmdlet));
      const writes = uses.filter((u) => u.cmdlet !== 'Get-InboundConnector');
      expect(writes.map((u) => u.cmdlet)).toEqual(['Set-InboundConnector', 'New-InboundConnector']);
      expect(variants[name]).toContain('-ConnectorType OnPremises');
      for (const u of writes) {
        for (const p of ['RequireTls', 'RestrictDomainsToIPAddresses', 'RestrictDomainsToCertificate']) {
          expect(u.parameters, `${u.cmdlet} -${p}`).not.toContain(p);
        }
      }
    });
  }
  it('knows which switches are Partner-only', () => {
    expect(CONNECTOR_TYPE_ONLY).toEqual({
      RequireTls: 'Partner',
      RestrictDomainsToIPAddresses: 'Partner',
      RestrictDomainsToCertificate: 'Partner',
      TreatMessagesAsInternal: 'OnPremises',
    });
  });
});

describe('input checks', () => {
  it('refuses IDs that are not GUIDs', () => {
    expect(() => renderRbacForApplications({ ...base, appId: "x'; Remove-Mailbox" })).toThrow(
      `appId "x'; Remove-Mailbox" is not a GUID`,
    );
  });
  it('refuses IPv6 and wide ranges for the IP connector', () => {
    expect(() =>
      renderInboundConnector({ ...base, connector: { ...base.connector, senderIps: ['2001:db8::1'] } }),
    ).toThrow('connector sender IP "2001:db8::1" must be IPv4, single or /24 to /32');
    expect(() =>
      renderInboundConnector({ ...base, connector: { ...base.connector, senderIps: ['10.0.0.0/8'] } }),
    ).toThrow('connector sender IP "10.0.0.0/8" must be IPv4, single or /24 to /32');
  });
  it('needs a group for an Application Access Policy', () => {
    expect(() => renderApplicationAccessPolicy(base)).toThrow(
      'an Application Access Policy needs senderGroup (a mail-enabled security group)',
    );
  });
  it('escapes quotes inside the OPATH filter', () => {
    expect(recipientFilter(["o'brien@x.com"])).toBe("PrimarySmtpAddress -eq 'o''brien@x.com'");
  });
});

describe('psQuote', () => {
  it('yields a single literal that PowerShell reads back as the same text', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/[\r\n\0]/.test(s)),
        (s) => {
          const q = psQuote(s);
          // Reverse PowerShell's rule: inside '…' a doubled quote character is one quote.
          expect(q.startsWith("'") && q.endsWith("'")).toBe(true);
          const inner = q.slice(1, -1);
          let out = '';
          for (let i = 0; i < inner.length; i++) {
            const c = inner[i] ?? '';
            if (/['\u2018\u2019\u201a\u201b]/.test(c)) {
              expect(inner[i + 1]).toBe(c);
              i++;
            }
            out += c;
          }
          expect(out).toBe(s);
        },
      ),
    );
  });
  it('refuses line breaks', () => {
    expect(() => psQuote('a\nb')).toThrow('refusing to quote a value with a line break or NUL: "a\\nb"');
  });
});
