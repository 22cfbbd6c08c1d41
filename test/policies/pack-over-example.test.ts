// The whole policy pack over the resources the example stack registers under mocks: zero violations.
// Then the same stack with tenant-wide consent forced onto a scoped app shows the pack has teeth.
import { readFileSync } from 'node:fs';
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { emailPolicies } from '../../policies/email.ts';
import { identityPolicies } from '../../policies/identity.ts';
import { keyVaultPolicies } from '../../policies/key-vault.ts';
import { rolePolicies } from '../../policies/roles.ts';
import { stackPolicies } from '../../policies/stack.ts';
import {
  configDefaults,
  recordedToPolicyResources,
  stackViolations,
  violations,
} from '../helpers/infra/policy-harness.ts';
import { runExampleStack } from '../helpers/infra/stack-harness.ts';

const ALL = [...identityPolicies, ...keyVaultPolicies, ...emailPolicies, ...rolePolicies, ...stackPolicies];
const isStack = (p: (typeof ALL)[number]): p is StackValidationPolicy => 'validateStack' in p;

async function runPack(resources: PolicyResource[]): Promise<string[]> {
  const out: string[] = [];
  for (const policy of ALL) {
    if (isStack(policy)) {
      for (const v of await stackViolations(policy, resources)) out.push(`${policy.name}: ${v.message}`);
      continue;
    }
    for (const r of resources) {
      for (const m of await violations(policy as ResourceValidationPolicy, r.type, r.props, {
        name: r.name,
        provider: r.provider,
      })) {
        out.push(`${policy.name} ${r.type} ${r.name}: ${m}`);
      }
    }
  }
  return out;
}

let resources: PolicyResource[];
beforeAll(async () => {
  const run = await runExampleStack();
  resources = recordedToPolicyResources(run.cloud.resources);
});

describe('policy pack over the example stack', () => {
  it('has policies with unique names, one file per domain', () => {
    expect(new Set(ALL.map((p) => p.name)).size).toBe(ALL.length);
    expect(ALL.length).toBe(21);
  });

  it('sees every resource with its provider', () => {
    expect(resources.length).toBe(37);
    const vault = resources.find((r) => r.type === 'azure-native:keyvault:Vault');
    expect(vault?.provider?.name).toBe('fabrikam-azure-native');
    expect(vault?.props.properties.enableRbacAuthorization).toBe(true);
  });

  it('passes with zero violations', async () => {
    expect(await runPack(resources)).toEqual([]);
  });

  it('catches the same stack broken in several places', async () => {
    const broken = resources.map((r) => {
      if (r.type === 'azure-native:keyvault:Vault') {
        return {
          ...r,
          props: { ...r.props, properties: { ...r.props.properties, enablePurgeProtection: false } },
        };
      }
      if (r.type === 'azure-native:communication:Domain')
        return { ...r, props: { ...r.props, userEngagementTracking: 'Enabled' } };
      if (r.type === 'azure-native:communication:EmailService') return { ...r, provider: undefined };
      return r;
    });
    expect(await runPack(broken)).toEqual([
      'key-vault-rbac-purge-protection-soft-delete azure-native:keyvault:Vault fabrikam-kv-vault: enablePurgeProtection must be true',
      'acs-user-engagement-tracking-off azure-native:communication:Domain fabrikam-acs-domain: userEngagementTracking is Enabled; set it to Disabled',
      "explicit-tenant-providers azure-native:communication:EmailService fabrikam-acs-email: uses the default azure-native provider; pass the tenant's explicit provider",
    ]);
  });

  // Issue 20 item 5: the case promised above, run. Tenant-wide consent forced onto the scoped app.
  it('catches a tenant-wide Mail.Send grant forced onto the scoped example stack', async () => {
    const grant = {
      ...resources.find((r) => r.type === 'azuread:index/application:Application'),
      type: 'azuread:index/appRoleAssignment:AppRoleAssignment',
      name: 'forced-graph-mail-send',
      urn: 'urn:pulumi:example::relaykit::azuread:index/appRoleAssignment:AppRoleAssignment::forced-graph-mail-send',
      props: {
        appRoleId: 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
        principalObjectId: 'x',
        resourceObjectId: 'y',
      },
    } as PolicyResource;
    expect(await runPack([...resources, grant])).toEqual([
      'no-tenant-wide-consent-in-scoped-mode: forced-graph-mail-send grants Mail.Send tenant-wide, but the stack scopes mail access with RBAC for Applications',
    ]);
  });

  it('fails the same stack without its locks and diagnostic settings, naming each resource', async () => {
    const bare = resources.filter(
      (r) =>
        r.type !== 'azure-native:authorization:ManagementLockByScope' &&
        r.type !== 'azure-native:monitor:DiagnosticSetting',
    );
    const head = (m: string) => m.slice(0, m.indexOf(' has no'));
    expect((await runPack(bare)).map(head)).toEqual([
      'delete-locks: fabrikam-acs-dmarc (azure-native:dns:RecordSet)',
      'delete-locks: fabrikam-acs-email (azure-native:communication:EmailService)',
      'delete-locks: fabrikam-acs-acs (azure-native:communication:CommunicationService)',
      'delete-locks: fabrikam-kv-vault (azure-native:keyvault:Vault)',
      'delete-locks: fabrikam-acs-txt (azure-native:dns:RecordSet)',
      'diagnostic-settings: fabrikam-acs-acs (azure-native:communication:CommunicationService)',
      'diagnostic-settings: fabrikam-kv-vault (azure-native:keyvault:Vault)',
    ]);
  });
});

// Issue 20 item 5: the tenant-wide + client-secret stack had never gone through the pack.
describe('policy pack over the tenant-wide stack with a client secret', () => {
  it('refuses the unscoped Mail.Send and Mail.ReadWrite grants, and nothing else', async () => {
    const run = await runExampleStack({ mailboxScoping: 'tenant-wide', mailCredential: 'secret' });
    expect(await runPack(recordedToPolicyResources(run.cloud.resources))).toEqual([
      'no-unscoped-mail-grants: fabrikam-mail-graph-mail-send grants Mail.Send tenant-wide with no mailbox scoping: the app can send as every mailbox; set mailboxScoping to rbac-for-applications (or application-access-policy)',
      'no-unscoped-mail-grants: fabrikam-mail-graph-mail-readwrite grants Mail.ReadWrite tenant-wide with no mailbox scoping: the app can read and change every mailbox; set mailboxScoping to rbac-for-applications, or largeMessages to false',
    ]);
  });
});

describe('pack assembly and tunables', () => {
  it('policies/index.ts assembles every domain file and nothing else', () => {
    const text = readFileSync('policies/index.ts', 'utf8');
    expect(text).toContain(
      'policies: [...identityPolicies, ...keyVaultPolicies, ...emailPolicies, ...rolePolicies, ...stackPolicies]',
    );
    expect(text.match(/new PolicyPack\(/g)).toHaveLength(1);
  });

  it('config.example.json sets only declared tunables, at their defaults', () => {
    const example = JSON.parse(readFileSync('policies/config.example.json', 'utf8')) as Record<
      string,
      unknown
    >;
    for (const [name, value] of Object.entries(example)) {
      if (name === 'all') continue;
      const policy = ALL.find((p) => p.name === name);
      expect(policy, name).toBeDefined();
      expect(value).toEqual(configDefaults(policy as (typeof ALL)[number]));
    }
    const tunable = ALL.filter((p) => p.configSchema !== undefined).map((p) => p.name);
    expect(
      Object.keys(example)
        .filter((k) => k !== 'all')
        .sort(),
    ).toEqual(tunable.sort());
  });
});
