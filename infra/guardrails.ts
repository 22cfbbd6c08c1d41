// infra/ room: the protective companions a component gives its important resources — a CanNotDelete
// management lock (so a portal click or another tool cannot delete the vault, ACS or the shared DNS
// TXT records; `pulumi destroy` removes the lock first) and a diagnostic setting sending the
// resource's audit logs to Log Analytics. Thin wrappers with fixed, policy-checked settings.
import * as azure from '@pulumi/azure-native';
import type * as pulumi from '@pulumi/pulumi';

export const LOCK_NAME = 'relaykit-do-not-delete';

/** A CanNotDelete lock on `scope` (a resource ID), child `${name}-lock` of `parent`. */
export function deleteLock(name: string, scope: pulumi.Input<string>, what: string, parent: pulumi.Resource) {
  return new azure.authorization.ManagementLockByScope(
    `${name}-lock`,
    {
      scope,
      lockName: LOCK_NAME,
      level: 'CanNotDelete',
      notes: `relaykit: ${what} is managed by the tenant's Pulumi stack; remove it with pulumi destroy`,
    },
    { parent },
  );
}

/** Diagnostic setting sending the resource's logs (a category group) to a Log Analytics workspace. */
export function diagnostics(
  name: string,
  resourceUri: pulumi.Input<string>,
  workspaceId: pulumi.Input<string>,
  categoryGroup: 'audit' | 'allLogs',
  parent: pulumi.Resource,
) {
  return new azure.monitor.DiagnosticSetting(
    `${name}-diagnostics`,
    {
      name: 'relaykit',
      resourceUri,
      workspaceId,
      logs: [{ categoryGroup, enabled: true }],
    },
    { parent },
  );
}
