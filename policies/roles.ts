// policies/ room, Azure RBAC domain: which roles a relaykit stack may grant and where. Built-in roles
// that can read or hand out every secret or permission are refused; every grant is made on the
// resource it is for (the vault, the Communication Service), never a subscription or resource
// group; custom roles name their actions (no wildcards) and are assignable in one resource group.
import type { ResourceValidationPolicy } from '@pulumi/policy';

export const RA = 'azure-native:authorization:RoleAssignment';
export const RD = 'azure-native:authorization:RoleDefinition';

/**
 * Built-in roles the relay never needs (IDs from learn: role-based-access-control/built-in-roles).
 * Its only grants are Key Vault Secrets User for the appliance and the custom ACS sending role.
 */
export const BROAD_ROLES: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'a4417e6f-fecd-4de8-b567-7b0420556985': 'Key Vault Certificates Officer',
  '14b46e9e-c2b7-41b4-b07b-48a6ebf60603': 'Key Vault Crypto Officer',
  'f25e0fa2-a7c8-4377-a976-54943a77a395': 'Key Vault Contributor',
  '8b54135c-b56d-4d72-a534-26097cfdc8d8': 'Key Vault Data Access Administrator',
  '09976791-48a7-449e-bb21-39d1a415f350': 'Communication and Email Service Owner',
};

const lastSegment = (id: unknown) =>
  String(id ?? '')
    .split('/')
    .pop()
    ?.toLowerCase() ?? '';

export const noBroadRoles: ResourceValidationPolicy = {
  name: 'no-broad-role-assignments',
  description:
    'Role assignments use narrow roles (Key Vault Secrets User, the custom ACS sending role), never administrator or owner roles.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== RA) return;
    const role = BROAD_ROLES[lastSegment(args.props.roleDefinitionId)];
    if (role !== undefined) {
      report(
        `assigns the broad built-in role ${role}; use Key Vault Secrets User for reading secrets or a custom role with only the needed actions`,
      );
    }
  },
};

/** What kind of scope an ARM ID is: a resource, or something wider. */
export function scopeKind(
  scope: string,
): 'resource' | 'resource group' | 'subscription' | 'management group' | 'root' {
  const s = scope.replace(/\/+$/, '').toLowerCase();
  if (s === '') return 'root';
  if (s.startsWith('/providers/microsoft.management/managementgroups/')) return 'management group';
  if (/^\/subscriptions\/[^/]+$/.test(s)) return 'subscription';
  if (/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/.test(s)) return 'resource group';
  return 'resource';
}

export const grantsOnResources: ResourceValidationPolicy = {
  name: 'role-assignments-on-resources',
  description:
    'Every role assignment is scoped to the one resource it is for (the vault, the Communication Service), never a subscription or resource group.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== RA) return;
    const scope = args.props.scope;
    // Unknown during a preview (the resource does not exist yet); checked again on update.
    if (typeof scope !== 'string') return;
    const kind = scopeKind(scope);
    if (kind !== 'resource') {
      report(
        `assigns at ${kind} scope (${scope || '/'}); assign at the vault or Communication Service itself`,
      );
    }
  },
};

interface Permission {
  actions?: string[];
  dataActions?: string[];
}

export const narrowCustomRoles: ResourceValidationPolicy = {
  name: 'custom-roles-narrow',
  description:
    'Custom roles list their actions without wildcards and are assignable within one resource group.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== RD) return;
    const permissions = (args.props.permissions ?? []) as Permission[];
    const wild = permissions
      .flatMap((p) => [...(p.actions ?? []), ...(p.dataActions ?? [])])
      .filter((a) => a.includes('*'));
    if (wild.length > 0)
      report(`grants wildcard actions ${wild.join(', ')}; list the exact actions the relay needs`);
    for (const scope of (args.props.assignableScopes ?? []) as unknown[]) {
      if (typeof scope !== 'string') continue;
      const kind = scopeKind(scope);
      if (kind !== 'resource group' && kind !== 'resource') {
        report(
          `is assignable at ${kind} scope (${scope || '/'}); make it assignable in the stack's resource group only`,
        );
      }
    }
  },
};

export const rolePolicies = [noBroadRoles, grantsOnResources, narrowCustomRoles];
