// policies/ room, identity domain: what the Entra side of a relaykit stack may ask for. Graph
// application permissions limited to Mail.Send / Mail.ReadWrite, no delegated permissions, no
// tenant-wide Mail consent when the stack scopes the app with Exchange RBAC for Applications, no
// tenant-wide Mail grant without any mailbox scoping, single-tenant apps, and bounded credential
// lifetimes with a readable end date. Policies match on type tokens so this file needs no provider SDK.
import type { ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';

export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const MAIL_SEND_ROLE = 'b633e1c5-b582-4048-a93e-9f11b44c7e96';
export const MAIL_READWRITE_ROLE = 'e2a3a72e-5f79-4c64-b1b1-878b674786c9';
const ROLE_NAMES: Record<string, string> = {
  [MAIL_SEND_ROLE]: 'Mail.Send',
  [MAIL_READWRITE_ROLE]: 'Mail.ReadWrite',
};

export const T = {
  application: 'azuread:index/application:Application',
  appRoleAssignment: 'azuread:index/appRoleAssignment:AppRoleAssignment',
  applicationPassword: 'azuread:index/applicationPassword:ApplicationPassword',
  applicationCertificate: 'azuread:index/applicationCertificate:ApplicationCertificate',
  selfSignedCert: 'tls:index/selfSignedCert:SelfSignedCert',
} as const;

const DAY = 86_400_000;

interface ResourceAccess {
  id?: string;
  type?: string;
}
interface RequiredResourceAccess {
  resourceAppId?: string;
  resourceAccesses?: ResourceAccess[];
}

const roleName = (id: string) => ROLE_NAMES[id] ?? id;

export const graphApplicationPermissions: ResourceValidationPolicy = {
  name: 'graph-application-permissions-mail-only',
  description:
    'Entra apps may request only Microsoft Graph Mail.Send / Mail.ReadWrite application permissions.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      allowedGraphAppRoles: {
        type: 'array',
        items: { type: 'string' },
        default: [MAIL_SEND_ROLE, MAIL_READWRITE_ROLE],
        description: 'Graph app role IDs an app may request or be granted.',
      },
    },
  },
  validateResource: (args, report) => {
    const { allowedGraphAppRoles } = args.getConfig<{ allowedGraphAppRoles: string[] }>();
    const allowed = new Set(allowedGraphAppRoles);
    if (args.type === T.application) {
      for (const rra of (args.props.requiredResourceAccesses ?? []) as RequiredResourceAccess[]) {
        if (rra.resourceAppId !== GRAPH_APP_ID) {
          report(
            `requests permissions of API ${rra.resourceAppId}; only Microsoft Graph (${GRAPH_APP_ID}) is allowed`,
          );
          continue;
        }
        for (const ra of rra.resourceAccesses ?? []) {
          if (ra.type === 'Role' && !allowed.has(ra.id ?? '')) {
            report(
              `requests Graph application permission ${ra.id}; only ${[...allowed].map(roleName).join(', ')} are allowed`,
            );
          }
        }
      }
    }
    if (args.type === T.appRoleAssignment) {
      const id = String(args.props.appRoleId ?? '');
      if (!allowed.has(id)) {
        report(`grants app role ${id}; only ${[...allowed].map(roleName).join(', ')} may be granted`);
      }
    }
  },
};

export const noDelegatedPermissions: ResourceValidationPolicy = {
  name: 'no-delegated-permissions',
  description: 'The relay acts as an application; its apps request no delegated (user) permissions.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== T.application) return;
    for (const rra of (args.props.requiredResourceAccesses ?? []) as RequiredResourceAccess[]) {
      for (const ra of rra.resourceAccesses ?? []) {
        if (ra.type === 'Scope') report(`requests delegated permission ${ra.id} of API ${rra.resourceAppId}`);
      }
    }
  },
};

/** The scoping tag MailApp writes on its Application ("relaykit-scoping:<mode>"). */
export const SCOPED_TAG = 'relaykit-scoping:rbac-for-applications';

export const noTenantWideConsentWhenScoped: StackValidationPolicy = {
  name: 'no-tenant-wide-consent-in-scoped-mode',
  description:
    'When the mail app is scoped with Exchange RBAC for Applications, no tenant-wide Mail.* grant may exist: ' +
    'Entra and Exchange grants are a union, so one would void the scope.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      alwaysScoped: {
        type: 'boolean',
        default: false,
        description: 'Treat every stack as scoped, even without the relaykit scoping tag.',
      },
    },
  },
  validateStack: (args, report) => {
    const { alwaysScoped } = args.getConfig<{ alwaysScoped: boolean }>();
    const scoped =
      alwaysScoped ||
      args.resources.some(
        (r) => r.type === T.application && ((r.props.tags ?? []) as string[]).includes(SCOPED_TAG),
      );
    if (!scoped) return;
    for (const r of args.resources) {
      if (r.type === T.appRoleAssignment && ROLE_NAMES[String(r.props.appRoleId)] !== undefined) {
        report(
          `${r.name} grants ${roleName(String(r.props.appRoleId))} tenant-wide, but the stack scopes mail access with RBAC for Applications`,
          r.urn,
        );
      }
      if (r.type === T.application && ((r.props.tags ?? []) as string[]).includes(SCOPED_TAG)) {
        const declared = ((r.props.requiredResourceAccesses ?? []) as RequiredResourceAccess[]).some(
          (rra) => (rra.resourceAccesses ?? []).length > 0,
        );
        if (declared) {
          report(
            `${r.name} declares Graph permissions although it is scoped; an admin consent click would void the scope`,
            r.urn,
          );
        }
      }
    }
  },
};

function daysUntil(iso: unknown, now: number): number | undefined {
  if (typeof iso !== 'string') return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : Math.ceil((t - now) / DAY);
}

export const credentialLifetime: ResourceValidationPolicy = {
  name: 'credential-lifetime',
  description: 'Client secrets and certificates expire within a bounded number of days.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      maxSecretDays: {
        type: 'integer',
        default: 180,
        minimum: 1,
        description: 'Longest client-secret lifetime.',
      },
      maxCertificateDays: {
        type: 'integer',
        default: 398,
        minimum: 1,
        description:
          'Longest certificate lifetime (tls.SelfSignedCert validity, ApplicationCertificate endDate).',
      },
    },
  },
  validateResource: (args, report) => {
    const { maxSecretDays, maxCertificateDays } = args.getConfig<{
      maxSecretDays: number;
      maxCertificateDays: number;
    }>();
    const now = Date.now();
    if (args.type === T.applicationPassword) {
      if (args.props.endDate === undefined) {
        report(`client secret has no endDate; set one at most ${maxSecretDays} days ahead`);
        return;
      }
      const days = daysUntil(args.props.endDate, now);
      if (days === undefined) report(`client secret endDate "${args.props.endDate}" is not an RFC 3339 date`);
      else if (days > maxSecretDays) {
        report(
          `client secret expires in ${days} days (${args.props.endDate}); the maximum is ${maxSecretDays}`,
        );
      }
    }
    if (args.type === T.applicationCertificate) {
      if (args.props.endDate === undefined) {
        // Entra would take the certificate's own notAfter, which this policy cannot see: state it.
        report(
          `certificate credential has no endDate; set it to the certificate's end (at most ${maxCertificateDays} days ahead)`,
        );
        return;
      }
      const days = daysUntil(args.props.endDate, now);
      if (days === undefined) {
        report(`certificate credential endDate "${args.props.endDate}" is not an RFC 3339 date`);
      } else if (days > maxCertificateDays) {
        report(`certificate credential expires in ${days} days; the maximum is ${maxCertificateDays}`);
      }
    }
    if (args.type === T.selfSignedCert) {
      const hours = Number(args.props.validityPeriodHours);
      if (!Number.isFinite(hours) || hours > maxCertificateDays * 24) {
        report(
          `certificate is valid for ${args.props.validityPeriodHours} hours; the maximum is ${maxCertificateDays * 24}`,
        );
      }
    }
  },
};

export const singleTenantApps: ResourceValidationPolicy = {
  name: 'single-tenant-apps',
  description:
    "The relay's Entra apps sign in only in the client's own tenant (signInAudience AzureADMyOrg).",
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== T.application) return;
    const audience = args.props.signInAudience;
    if (audience !== 'AzureADMyOrg') {
      report(
        `signInAudience is ${audience ?? '(unset, AzureADMyOrg only when stated)'}; set it to AzureADMyOrg so no other tenant can sign in to the app`,
      );
    }
  },
};

/** Scoping tags under which a tenant-wide Mail grant is narrowed to chosen mailboxes. */
export const NARROWING_TAGS = ['relaykit-scoping:application-access-policy'];

export const noUnscopedMailGrants: StackValidationPolicy = {
  name: 'no-unscoped-mail-grants',
  description:
    'A tenant-wide Mail.Send or Mail.ReadWrite grant needs mailbox scoping (an Application Access Policy); without it the app can send as, or read, every mailbox.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      allowUnscopedMailSend: {
        type: 'boolean',
        default: false,
        description: 'Accept tenant-wide Mail.Send without mailbox scoping (Mail.ReadWrite never).',
      },
    },
  },
  validateStack: (args, report) => {
    const { allowUnscopedMailSend } = args.getConfig<{ allowUnscopedMailSend: boolean }>();
    const narrowed = args.resources.some(
      (r) =>
        r.type === T.application &&
        ((r.props.tags ?? []) as string[]).some((t) => NARROWING_TAGS.includes(t)),
    );
    const scoped = args.resources.some(
      (r) => r.type === T.application && ((r.props.tags ?? []) as string[]).includes(SCOPED_TAG),
    );
    // RBAC-for-Applications stacks are held to "no grant at all" by no-tenant-wide-consent-in-scoped-mode.
    if (narrowed || scoped) return;
    for (const r of args.resources) {
      if (r.type !== T.appRoleAssignment) continue;
      const id = String(r.props.appRoleId);
      if (id === MAIL_SEND_ROLE && !allowUnscopedMailSend) {
        report(
          `${r.name} grants Mail.Send tenant-wide with no mailbox scoping: the app can send as every mailbox; set mailboxScoping to rbac-for-applications (or application-access-policy)`,
          r.urn,
        );
      }
      if (id === MAIL_READWRITE_ROLE) {
        report(
          `${r.name} grants Mail.ReadWrite tenant-wide with no mailbox scoping: the app can read and change every mailbox; set mailboxScoping to rbac-for-applications, or largeMessages to false`,
          r.urn,
        );
      }
    }
  },
};

export const identityPolicies = [
  graphApplicationPermissions,
  noDelegatedPermissions,
  noTenantWideConsentWhenScoped,
  noUnscopedMailGrants,
  singleTenantApps,
  credentialLifetime,
];
