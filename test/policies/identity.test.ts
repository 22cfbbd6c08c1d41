// Identity policies, mutate-one-field style: a valid resource passes, each single change yields
// exactly the expected message.
import { describe, expect, it } from 'vitest';
import {
  credentialLifetime,
  graphApplicationPermissions,
  MAIL_READWRITE_ROLE,
  MAIL_SEND_ROLE,
  noDelegatedPermissions,
  noTenantWideConsentWhenScoped,
  noUnscopedMailGrants,
  SCOPED_TAG,
  singleTenantApps,
  T,
} from '../../policies/identity.ts';
import { policyResource, stackViolations, violations } from '../helpers/infra/policy-harness.ts';

const GRAPH = '00000003-0000-0000-c000-000000000000';
const app = (accesses: Array<{ id: string; type: string }>, resourceAppId = GRAPH) => ({
  displayName: 'relaykit mail (fabrikam)',
  requiredResourceAccesses: [{ resourceAppId, resourceAccesses: accesses }],
});
const DAY = 86_400_000;
const HOUR = 3_600_000;
const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('graph-application-permissions-mail-only', () => {
  it('accepts Mail.Send and Mail.ReadWrite application roles', async () => {
    const ok = app([
      { id: MAIL_SEND_ROLE, type: 'Role' },
      { id: MAIL_READWRITE_ROLE, type: 'Role' },
    ]);
    expect(await violations(graphApplicationPermissions, T.application, ok)).toEqual([]);
    expect(
      await violations(graphApplicationPermissions, T.appRoleAssignment, { appRoleId: MAIL_SEND_ROLE }),
    ).toEqual([]);
  });
  it('rejects another Graph application permission', async () => {
    expect(
      await violations(
        graphApplicationPermissions,
        T.application,
        app([{ id: '810c84a8-4a9e-49e6-bf7d-12d183f40d01', type: 'Role' }]),
      ),
    ).toEqual([
      'requests Graph application permission 810c84a8-4a9e-49e6-bf7d-12d183f40d01; only Mail.Send, Mail.ReadWrite are allowed',
    ]);
  });
  it('rejects permissions of another API', async () => {
    expect(
      await violations(
        graphApplicationPermissions,
        T.application,
        app([{ id: MAIL_SEND_ROLE, type: 'Role' }], '00000002-0000-0ff1-ce00-000000000000'),
      ),
    ).toEqual([
      'requests permissions of API 00000002-0000-0ff1-ce00-000000000000; only Microsoft Graph (00000003-0000-0000-c000-000000000000) is allowed',
    ]);
  });
  it('rejects granting another app role', async () => {
    expect(
      await violations(graphApplicationPermissions, T.appRoleAssignment, {
        appRoleId: '01d4889c-1287-42c6-ac1f-5d1e02578ef6',
      }),
    ).toEqual([
      'grants app role 01d4889c-1287-42c6-ac1f-5d1e02578ef6; only Mail.Send, Mail.ReadWrite may be granted',
    ]);
  });
  it('narrows with config', async () => {
    expect(
      await violations(
        graphApplicationPermissions,
        T.appRoleAssignment,
        { appRoleId: MAIL_READWRITE_ROLE },
        {
          config: { allowedGraphAppRoles: [MAIL_SEND_ROLE] },
        },
      ),
    ).toEqual([`grants app role ${MAIL_READWRITE_ROLE}; only Mail.Send may be granted`]);
  });
});

describe('no-delegated-permissions', () => {
  it('accepts application roles only', async () => {
    expect(
      await violations(noDelegatedPermissions, T.application, app([{ id: MAIL_SEND_ROLE, type: 'Role' }])),
    ).toEqual([]);
  });
  it('rejects a delegated scope', async () => {
    expect(
      await violations(
        noDelegatedPermissions,
        T.application,
        app([{ id: 'e383f46e-2787-4529-855e-0e479a3ffac0', type: 'Scope' }]),
      ),
    ).toEqual([`requests delegated permission e383f46e-2787-4529-855e-0e479a3ffac0 of API ${GRAPH}`]);
  });
});

describe('no-tenant-wide-consent-in-scoped-mode', () => {
  const scopedApp = policyResource(
    T.application,
    { tags: ['relaykit', SCOPED_TAG], requiredResourceAccesses: [] },
    'fabrikam-mail-app',
  );
  const grant = policyResource(
    T.appRoleAssignment,
    { appRoleId: MAIL_SEND_ROLE },
    'fabrikam-mail-graph-mail-send',
  );
  it('accepts a scoped app without grants', async () => {
    expect(await stackViolations(noTenantWideConsentWhenScoped, [scopedApp])).toEqual([]);
  });
  it('rejects a Mail.Send grant in a scoped stack', async () => {
    expect(await stackViolations(noTenantWideConsentWhenScoped, [scopedApp, grant])).toEqual([
      {
        message:
          'fabrikam-mail-graph-mail-send grants Mail.Send tenant-wide, but the stack scopes mail access with RBAC for Applications',
        urn: grant.urn,
      },
    ]);
  });
  it('rejects declared permissions on a scoped app', async () => {
    const declared = policyResource(
      T.application,
      {
        tags: [SCOPED_TAG],
        requiredResourceAccesses: [
          { resourceAppId: GRAPH, resourceAccesses: [{ id: MAIL_SEND_ROLE, type: 'Role' }] },
        ],
      },
      'fabrikam-mail-app',
    );
    expect(await stackViolations(noTenantWideConsentWhenScoped, [declared])).toEqual([
      {
        message:
          'fabrikam-mail-app declares Graph permissions although it is scoped; an admin consent click would void the scope',
        urn: declared.urn,
      },
    ]);
  });
  it('allows the grant in a tenant-wide stack unless every stack must be scoped', async () => {
    const tenantWideApp = policyResource(
      T.application,
      { tags: ['relaykit-scoping:tenant-wide'] },
      'fabrikam-mail-app',
    );
    expect(await stackViolations(noTenantWideConsentWhenScoped, [tenantWideApp, grant])).toEqual([]);
    expect(
      await stackViolations(noTenantWideConsentWhenScoped, [tenantWideApp, grant], { alwaysScoped: true }),
    ).toHaveLength(1);
  });
});

describe('credential-lifetime', () => {
  it('accepts a secret within the maximum', async () => {
    expect(
      await violations(credentialLifetime, T.applicationPassword, {
        applicationId: '/applications/x',
        endDate: inDays(179),
      }),
    ).toEqual([]);
  });
  it('rejects a secret that lives too long', async () => {
    const endDate = inDays(200);
    expect(
      await violations(credentialLifetime, T.applicationPassword, {
        applicationId: '/applications/x',
        endDate,
      }),
    ).toEqual([`client secret expires in 200 days (${endDate}); the maximum is 180`]);
  });
  it('rejects a secret without end date', async () => {
    expect(
      await violations(credentialLifetime, T.applicationPassword, { applicationId: '/applications/x' }),
    ).toEqual(['client secret has no endDate; set one at most 180 days ahead']);
  });
  it('bounds certificates', async () => {
    expect(await violations(credentialLifetime, T.selfSignedCert, { validityPeriodHours: 365 * 24 })).toEqual(
      [],
    );
    expect(await violations(credentialLifetime, T.selfSignedCert, { validityPeriodHours: 825 * 24 })).toEqual(
      ['certificate is valid for 19800 hours; the maximum is 9552'],
    );
    expect(await violations(credentialLifetime, T.applicationCertificate, { endDate: inDays(500) })).toEqual([
      'certificate credential expires in 500 days; the maximum is 398',
    ]);
  });
  // Boundary: the lifetime is counted in started days, so 180 days less an hour is day 180 (allowed)
  // and 180 days plus an hour is day 181 (refused).
  it('accepts a secret ending within day 180 and refuses one ending in day 181', async () => {
    expect(
      await violations(credentialLifetime, T.applicationPassword, { endDate: inMs(180 * DAY - HOUR) }),
    ).toEqual([]);
    const endDate = inMs(180 * DAY + HOUR);
    expect(await violations(credentialLifetime, T.applicationPassword, { endDate })).toEqual([
      `client secret expires in 181 days (${endDate}); the maximum is 180`,
    ]);
  });
  it('refuses an unparsable secret end date', async () => {
    expect(await violations(credentialLifetime, T.applicationPassword, { endDate: 'next spring' })).toEqual([
      'client secret endDate "next spring" is not an RFC 3339 date',
    ]);
  });
  // Issue 20 item 5: a certificate without (or with an unreadable) end date passed unchecked.
  it('refuses a certificate credential with no end date or an unparsable one', async () => {
    expect(
      await violations(credentialLifetime, T.applicationCertificate, { type: 'AsymmetricX509Cert' }),
    ).toEqual([
      "certificate credential has no endDate; set it to the certificate's end (at most 398 days ahead)",
    ]);
    expect(
      await violations(credentialLifetime, T.applicationCertificate, { endDate: '2027-13-45T00:00:00Z' }),
    ).toEqual(['certificate credential endDate "2027-13-45T00:00:00Z" is not an RFC 3339 date']);
    expect(
      await violations(credentialLifetime, T.applicationCertificate, { endDate: inMs(398 * DAY - HOUR) }),
    ).toEqual([]);
    expect(
      await violations(credentialLifetime, T.applicationCertificate, { endDate: inMs(398 * DAY + HOUR) }),
    ).toEqual(['certificate credential expires in 399 days; the maximum is 398']);
  });
  it('takes its maximum from config', async () => {
    expect(
      await violations(
        credentialLifetime,
        T.applicationPassword,
        { endDate: inDays(100) },
        { config: { maxSecretDays: 90 } },
      ),
    ).toHaveLength(1);
  });
});

describe('single-tenant-apps', () => {
  it('accepts AzureADMyOrg', async () => {
    expect(await violations(singleTenantApps, T.application, { signInAudience: 'AzureADMyOrg' })).toEqual([]);
  });
  it('refuses a multi-tenant audience and an unstated one', async () => {
    expect(
      await violations(singleTenantApps, T.application, { signInAudience: 'AzureADMultipleOrgs' }),
    ).toEqual([
      'signInAudience is AzureADMultipleOrgs; set it to AzureADMyOrg so no other tenant can sign in to the app',
    ]);
    expect(await violations(singleTenantApps, T.application, {})).toEqual([
      'signInAudience is (unset, AzureADMyOrg only when stated); set it to AzureADMyOrg so no other tenant can sign in to the app',
    ]);
  });
});

describe('no-unscoped-mail-grants', () => {
  const app = (scoping: string) =>
    policyResource(T.application, { tags: ['relaykit', `relaykit-scoping:${scoping}`] }, 'fabrikam-mail-app');
  const send = policyResource(
    T.appRoleAssignment,
    { appRoleId: MAIL_SEND_ROLE },
    'fabrikam-mail-graph-mail-send',
  );
  const readWrite = policyResource(
    T.appRoleAssignment,
    { appRoleId: MAIL_READWRITE_ROLE },
    'fabrikam-mail-graph-mail-readwrite',
  );
  const SEND_MSG =
    'fabrikam-mail-graph-mail-send grants Mail.Send tenant-wide with no mailbox scoping: the app can send as every mailbox; set mailboxScoping to rbac-for-applications (or application-access-policy)';
  const RW_MSG =
    'fabrikam-mail-graph-mail-readwrite grants Mail.ReadWrite tenant-wide with no mailbox scoping: the app can read and change every mailbox; set mailboxScoping to rbac-for-applications, or largeMessages to false';
  it('accepts grants narrowed by an Application Access Policy', async () => {
    expect(
      await stackViolations(noUnscopedMailGrants, [app('application-access-policy'), send, readWrite]),
    ).toEqual([]);
  });
  it('refuses tenant-wide Mail.Send without scoping', async () => {
    expect(await stackViolations(noUnscopedMailGrants, [app('tenant-wide'), send])).toEqual([
      { message: SEND_MSG, urn: send.urn },
    ]);
  });
  it('refuses tenant-wide Mail.ReadWrite on top, even where unscoped Mail.Send is allowed', async () => {
    expect(await stackViolations(noUnscopedMailGrants, [app('tenant-wide'), send, readWrite])).toEqual([
      { message: SEND_MSG, urn: send.urn },
      { message: RW_MSG, urn: readWrite.urn },
    ]);
    expect(
      await stackViolations(noUnscopedMailGrants, [app('tenant-wide'), send, readWrite], {
        allowUnscopedMailSend: true,
      }),
    ).toEqual([{ message: RW_MSG, urn: readWrite.urn }]);
  });
});
