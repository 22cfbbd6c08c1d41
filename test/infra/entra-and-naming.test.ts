// Pure parts of the Entra components and the naming rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GRAPH_APP_ID,
  grantsTenantWide,
  requiredResourceAccessesFor,
  rotationWindow,
} from '../../infra/entra-app.ts';
import { baseTags, isValidVaultName, tenantNames } from '../../infra/naming.ts';

const DAY = 86_400_000;

describe('rotationWindow', () => {
  it('always leaves a valid secret: expiry after now + (lifetime - rotation) and at most now + lifetime', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 365 }),
        fc.integer({ min: 1, max: 365 }),
        (now, rotation, extra) => {
          const lifetime = rotation + extra;
          const w = rotationWindow(now, rotation, lifetime);
          const end = Date.parse(w.endDate);
          expect(end).toBeGreaterThan(now.getTime() + (lifetime - rotation) * DAY);
          expect(end).toBeLessThanOrEqual(now.getTime() + lifetime * DAY);
          expect(Date.parse(w.periodStart)).toBeLessThanOrEqual(now.getTime());
        },
      ),
    );
  });

  it('is stable within a period and moves at the period boundary', () => {
    const a = rotationWindow(new Date('2026-09-04T00:00:00Z'), 90, 180);
    const b = rotationWindow(new Date('2026-12-02T23:59:59Z'), 90, 180);
    const c = rotationWindow(new Date('2026-12-03T00:00:00Z'), 90, 180);
    expect(a).toEqual(b);
    expect(c).toEqual({ periodStart: '2026-12-03T00:00:00Z', endDate: '2027-06-01T00:00:00Z' });
  });
});

describe('Graph permissions', () => {
  it('declares nothing in RBAC-for-Applications mode', () => {
    expect(grantsTenantWide('rbac-for-applications')).toBe(false);
    expect(requiredResourceAccessesFor('rbac-for-applications', true)).toEqual([]);
  });
  it('declares Mail.Send (+ Mail.ReadWrite) as application roles otherwise', () => {
    expect(requiredResourceAccessesFor('tenant-wide', false)).toEqual([
      {
        resourceAppId: GRAPH_APP_ID,
        resourceAccesses: [{ id: 'b633e1c5-b582-4048-a93e-9f11b44c7e96', type: 'Role' }],
      },
    ]);
    expect(requiredResourceAccessesFor('application-access-policy', true)[0]?.resourceAccesses).toEqual([
      { id: 'b633e1c5-b582-4048-a93e-9f11b44c7e96', type: 'Role' },
      { id: 'e2a3a72e-5f79-4c64-b1b1-878b674786c9', type: 'Role' },
    ]);
  });
});

describe('naming', () => {
  it('gives valid, stable, globally spread vault names for every customer code', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{1,11}$/), fc.uuid(), (code, sub) => {
        const n = tenantNames(code, sub);
        expect(isValidVaultName(n.keyVault)).toBe(true);
        expect(n.keyVault.length).toBeLessThanOrEqual(24);
        expect(tenantNames(code, sub)).toEqual(n);
        expect(n.communicationService).toMatch(/^acs-rk-[a-z0-9]+-[0-9a-f]{4}$/);
      }),
    );
  });
  it('rejects bad vault names', () => {
    for (const bad of ['kv', '1kv-name', 'kv--name', 'kv-name-', 'a'.repeat(25)])
      expect(isValidVaultName(bad)).toBe(false);
  });
  it('required tags cannot be overridden by extra tags', () => {
    expect(baseTags('fabrikam', 'prod', { 'relaykit-customer': 'other', team: 'it' })).toEqual({
      'relaykit-customer': 'fabrikam',
      'relaykit-stack': 'prod',
      'managed-by': 'pulumi-relaykit',
      team: 'it',
    });
  });
});
