// policies/ room, stack domain: hygiene that spans resource kinds — required tags on taggable Azure
// resources, every Azure/Entra resource on the tenant's explicit provider (never an ambient default
// one that could point at another client's tenant), and no broad built-in roles.
import type { ResourceValidationPolicy } from '@pulumi/policy';

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

/** Owner, Contributor, User Access Administrator: never needed by the relay. */
export const BROAD_ROLES: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
};

export const noBroadRoles: ResourceValidationPolicy = {
  name: 'no-broad-role-assignments',
  description:
    'Role assignments use narrow roles (Key Vault Secrets User, Communication and Email Service Owner).',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== 'azure-native:authorization:RoleAssignment') return;
    const id =
      String(args.props.roleDefinitionId ?? '')
        .split('/')
        .pop() ?? '';
    const role = BROAD_ROLES[id.toLowerCase()];
    if (role !== undefined) report(`assigns the broad built-in role ${role}; use a narrow role`);
  },
};

export const stackPolicies = [requiredTags, explicitTenantProviders, noBroadRoles];
