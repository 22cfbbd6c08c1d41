// policies/ room, stack domain: hygiene that spans resource kinds — required tags on taggable Azure
// resources, every Azure/Entra resource on the tenant's explicit provider (never an ambient default
// one that could point at another client's tenant) and all providers on one tenant, delete locks
// on what holds mail and secrets, and diagnostic settings that keep their audit logs.
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';

export { BROAD_ROLES, noBroadRoles } from './roles.ts';

/** azure-native types the program creates that carry ARM tags. */
export const TAGGABLE = [
  'azure-native:resources:ResourceGroup',
  'azure-native:keyvault:Vault',
  'azure-native:keyvault:Secret',
  'azure-native:communication:EmailService',
  'azure-native:communication:Domain',
  'azure-native:communication:CommunicationService',
];

export const requiredTags: ResourceValidationPolicy = {
  name: 'required-tags',
  description: 'Taggable Azure resources carry the required tags.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      requiredTags: {
        type: 'array',
        items: { type: 'string' },
        default: ['relaykit-customer', 'relaykit-stack', 'managed-by'],
        description: 'Tag keys every taggable resource must have (non-empty values).',
      },
    },
  },
  validateResource: (args, report) => {
    if (!TAGGABLE.includes(args.type)) return;
    const { requiredTags: keys } = args.getConfig<{ requiredTags: string[] }>();
    const tags = (args.props.tags ?? {}) as Record<string, unknown>;
    const missing = keys.filter((k) => typeof tags[k] !== 'string' || tags[k] === '');
    if (missing.length > 0) report(`missing required tags: ${missing.join(', ')}`);
  },
};

/** Pulumi names a package's default provider "default" or "default_<version>". */
export function isDefaultProvider(name: string): boolean {
  return name === 'default' || name.startsWith('default_');
}

export const explicitTenantProviders: ResourceValidationPolicy = {
  name: 'explicit-tenant-providers',
  description:
    "Every azure-native and azuread resource uses the stack's explicit provider pinned to the client's tenant " +
    '(and subscription), never the default provider and its ambient credentials.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    const pkg = args.type.split(':')[0];
    if (pkg !== 'azure-native' && pkg !== 'azuread') return;
    const provider = args.provider;
    if (provider === undefined || isDefaultProvider(provider.name)) {
      report(`uses the default ${pkg} provider; pass the tenant's explicit provider`);
      return;
    }
    if (typeof provider.props.tenantId !== 'string' || provider.props.tenantId === '') {
      report(`provider ${provider.name} does not pin tenantId`);
    }
    if (
      pkg === 'azure-native' &&
      (typeof provider.props.subscriptionId !== 'string' || provider.props.subscriptionId === '')
    ) {
      report(`provider ${provider.name} does not pin subscriptionId`);
    }
  },
};

/** Where a resource states the tenant it belongs to, besides its provider. */
function tenantIdsOf(r: PolicyResource): Array<[string, unknown]> {
  if (r.type === 'azure-native:keyvault:Vault')
    return [['properties.tenantId', (r.props.properties as { tenantId?: unknown } | undefined)?.tenantId]];
  if (r.type === 'azure-native:communication:SmtpUsername') return [['tenantId', r.props.tenantId]];
  return [];
}

export const oneTenant: StackValidationPolicy = {
  name: 'one-tenant-per-stack',
  description:
    'Every provider of the stack, and every resource that names a tenant (Key Vault, SMTP username), points at the same client tenant.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    const tenants = new Map<string, string[]>();
    const note = (tenant: unknown, where: string) => {
      if (typeof tenant !== 'string' || tenant === '') return;
      const t = tenant.toLowerCase();
      tenants.set(t, [...(tenants.get(t) ?? []), where]);
    };
    for (const r of args.resources) {
      if (r.provider !== undefined && /^pulumi:providers:(azure-native|azuread)$/.test(r.provider.type)) {
        note(r.provider.props.tenantId, `provider ${r.provider.name}`);
      }
      for (const [field, value] of tenantIdsOf(r)) note(value, `${r.name}.${field}`);
    }
    if (tenants.size > 1) {
      const list = [...tenants].map(([t, where]) => `${t} (${[...new Set(where)].join(', ')})`).join('; ');
      report(
        `the stack spans several tenants: ${list}; one stack serves one client tenant, set tenantId once and use it everywhere`,
      );
    }
  },
};

/** Resource types that must carry a delete lock: losing one stops mail or loses secrets/records. */
export const LOCKED_TYPES = [
  'azure-native:keyvault:Vault',
  'azure-native:communication:EmailService',
  'azure-native:communication:CommunicationService',
];
const LOCK = 'azure-native:authorization:ManagementLockByScope';
const needsLock = (r: PolicyResource) =>
  LOCKED_TYPES.includes(r.type) || (r.type === 'azure-native:dns:RecordSet' && r.props.recordType === 'TXT');

/** The resources of the given type whose dependencies include `target` (e.g. its lock). */
const dependents = (all: readonly PolicyResource[], type: string, target: PolicyResource) =>
  all.filter((r) => r.type === type && r.dependencies.some((d) => d.urn === target.urn));

export const deleteLocks: StackValidationPolicy = {
  name: 'delete-locks',
  description:
    'The Key Vault, the ACS Email and Communication Services and the shared DNS TXT record sets carry a CanNotDelete (or ReadOnly) management lock.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    for (const r of args.resources.filter(needsLock)) {
      const locks = dependents(args.resources, LOCK, r).filter((l) =>
        ['CanNotDelete', 'ReadOnly'].includes(String(l.props.level)),
      );
      if (locks.length === 0) {
        report(
          `${r.name} (${r.type}) has no CanNotDelete lock; add an authorization.ManagementLockByScope scoped to it (config resourceLocks)`,
          r.urn,
        );
      }
    }
  },
};

const DIAGNOSTIC = 'azure-native:monitor:DiagnosticSetting';
export const AUDITED_TYPES = [
  'azure-native:keyvault:Vault',
  'azure-native:communication:CommunicationService',
];

export const diagnosticSettings: StackValidationPolicy = {
  name: 'diagnostic-settings',
  description:
    'The Key Vault and the Communication Service send their logs to Log Analytics (or storage / Event Hub).',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    for (const r of args.resources.filter((x) => AUDITED_TYPES.includes(x.type))) {
      const ok = dependents(args.resources, DIAGNOSTIC, r).some((d) => {
        const sink = [
          d.props.workspaceId,
          d.props.storageAccountId,
          d.props.eventHubAuthorizationRuleId,
        ].some((v) => v !== undefined && v !== '');
        const logs = ((d.props.logs ?? []) as Array<{ enabled?: boolean }>).some((l) => l.enabled === true);
        return sink && logs;
      });
      if (!ok) {
        report(
          `${r.name} (${r.type}) has no diagnostic setting sending its logs anywhere; add a monitor.DiagnosticSetting with a workspace and an enabled log category group`,
          r.urn,
        );
      }
    }
  },
};

export const stackPolicies = [
  requiredTags,
  explicitTenantProviders,
  oneTenant,
  deleteLocks,
  diagnosticSettings,
];
