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
  SCOPED_TAG,
  T,
} from '../../policies/identity.ts';
import { policyResource, stackViolations, violations } from '../helpers/infra/policy-harness.ts';

const GRAPH = '00000003-0000-0000-c000-000000000000';
const app = (accesses: Array<{ id: string; type: string }>, resourceAppId = GRAPH) => ({
  displayName: 'relaykit mail (fabrikam)',
  requiredResourceAccesses: [{ resourceAppId, resourceAccesses: accesses }],
});
const DAY = 86_400_000;
const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();

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
