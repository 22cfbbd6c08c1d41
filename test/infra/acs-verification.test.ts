// The ARM-calling dynamic providers (verification trigger, additive domain link, resource-provider
// registration) against a loopback stand-in for ARM (test/helpers/infra/arm-stub.ts), with an
// injected token source: the real one asks @azure/identity at run time, so no token is an input.
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type DomainLinkInputs,
  type DomainLinkOutputs,
  domainLinkProviderWith,
} from '../../infra/acs-link.ts';
import {
  type DomainVerificationInputs,
  type DomainVerificationOutputs,
  domainVerificationProvider,
  domainVerificationProviderWith,
} from '../../infra/acs-verification.ts';
import {
  type ProviderRegistrationInputs,
  providerRegistrationProviderWith,
} from '../../infra/provider-registration.ts';
import { type ArmStub, DOMAIN, SERVICE, SUB, startArmStub, TOKEN } from '../helpers/infra/arm-stub.ts';

const TENANT = '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90';
let arm: ArmStub;
const tokens: string[] = [];
const good = async (tenantId: string) => {
  tokens.push(tenantId);
  return TOKEN;
};
const verifier = domainVerificationProviderWith(good);
const linker = domainLinkProviderWith(good);
const registrar = providerRegistrationProviderWith(good);

beforeAll(async () => {
  arm = await startArmStub();
});
afterAll(() => arm.close());
beforeEach(() => {
  arm.reset();
  tokens.length = 0;
});

const vInputs = (over: Partial<DomainVerificationInputs> = {}): DomainVerificationInputs => ({
  relaykit: 'domain-verification',
  domainId: DOMAIN,
  tenantId: TENANT,
  kinds: ['Domain', 'SPF', 'DKIM', 'DKIM2'],
  retryKinds: [],
  armEndpoint: arm.endpoint,
  recordsDigest: 'abc',
  ...over,
});
const posted = () =>
  arm.state.seen
    .filter((s) => s.startsWith('POST'))
    .map((s) => JSON.parse(s.split(' ')[2] ?? '{}').verificationType);

describe('domain verification provider', () => {
  it('asks ARM to verify each record type with a token fetched for the stack tenant', async () => {
    const result = await verifier.create(vInputs());
    expect(posted()).toEqual(['Domain', 'SPF', 'DKIM', 'DKIM2']);
    expect(tokens).toEqual([TENANT]);
    expect(result).toEqual({
      id: `${DOMAIN}/initiateVerification`,
      outs: {
        ...vInputs(),
        results: { Domain: 'requested', SPF: 'requested', DKIM: 'requested', DKIM2: 'requested' },
      },
    });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('waits out a 429 with Retry-After and carries on', async () => {
    arm.state.throttleNext = 1;
    const { outs } = await verifier.create(vInputs({ kinds: ['Domain'] }));
    expect(outs?.results).toEqual({ Domain: 'requested' });
  });

  // Issue 16 defect 8: a DMARC verification failure used to fail the whole run.
  it('reports a refused record without failing the run, and the others still go through', async () => {
    arm.state.refuse.add('DMARC');
    const { outs } = await verifier.create(vInputs({ kinds: ['Domain', 'DMARC', 'DKIM'] }));
    expect(outs?.results).toEqual({
      Domain: 'requested',
      DMARC: 'failed: HTTP 400 {"error":{"code":"BadRequest","message":"DMARC record not found"}}',
      DKIM: 'requested',
    });
  });

  it('reports a missing credential per record instead of throwing', async () => {
    const noLogin = domainVerificationProviderWith(async () => {
      throw new Error('Please run az login');
    });
    const { outs } = await noLogin.create(vInputs({ kinds: ['Domain'] }));
    expect(outs?.results).toEqual({
      Domain: `not requested: no ARM token for tenant ${TENANT} (Please run az login)`,
    });
  });

  // Issue 16 defect 8: verification was never asked again after a failed attempt.
  it('asks again on a later run for the records that read NotStarted or VerificationFailed', async () => {
    const diff = verifier.diff as NonNullable<typeof verifier.diff>;
    const update = verifier.update as NonNullable<typeof verifier.update>;
    const olds: DomainVerificationOutputs = {
      ...vInputs(),
      results: { Domain: 'requested', SPF: 'requested', DKIM: 'requested', DKIM2: 'requested' },
    };
    expect(await diff('id', olds, vInputs())).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: true,
    });
    const news = vInputs({ retryKinds: ['DKIM2'] });
    expect(await diff('id', olds, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: true });
    const { outs } = await update('id', olds, news);
    expect(posted()).toEqual(['DKIM2']);
    expect(outs?.results).toEqual(olds.results);
    expect(await diff('id', olds, vInputs({ recordsDigest: 'def' }))).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(await diff('id', olds, vInputs({ domainId: `${DOMAIN}x` }))).toMatchObject({
      replaces: ['domainId'],
    });
  });
});

const lInputs = (): DomainLinkInputs => ({
  relaykit: 'domain-link',
  communicationServiceId: SERVICE,
  domainId: DOMAIN,
  tenantId: TENANT,
  armEndpoint: arm.endpoint,
});
const verifyAll = () => {
  for (const k of ['Domain', 'SPF', 'DKIM', 'DKIM2']) arm.state.states[k] = 'Verified';
};

// Issue 16 defect 2: the link was recomputed every run and could unlink a live domain.
describe('domain link provider', () => {
  it('does not link while a required record is not Verified, and says which', async () => {
    arm.state.states.Domain = 'Verified';
    const { outs } = await linker.create(lInputs());
    expect(outs).toMatchObject({
      linked: false,
      status:
        'phase 2 waiting: not yet verified (SPF=NotStarted, DKIM=NotStarted, DKIM2=NotStarted); run `pulumi up` again later',
    });
    expect(arm.state.seen.filter((s) => s.startsWith('PATCH'))).toEqual([]);
  });

  it('adds its domain to the links made elsewhere, once verified', async () => {
    verifyAll();
    arm.state.linkedDomains = ['/subscriptions/x/other-domain'];
    const { outs } = await linker.create(lInputs());
    expect(outs).toMatchObject({ linked: true, status: 'phase 2: verified and linked' });
    expect(arm.state.linkedDomains).toEqual(['/subscriptions/x/other-domain', DOMAIN]);
  });

  it('never re-decides a made link, whatever verification reads later', async () => {
    const diff = linker.diff as NonNullable<typeof linker.diff>;
    const linked: DomainLinkOutputs = { ...lInputs(), linked: true, status: 'phase 2: verified and linked' };
    arm.state.states.DKIM = 'VerificationInProgress';
    expect(await diff('id', linked, lInputs())).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: true,
    });
    const waiting: DomainLinkOutputs = { ...linked, linked: false };
    expect(await diff('id', waiting, lInputs())).toMatchObject({ changes: true, replaces: [] });
  });

  it('is idempotent and, when deleted, removes only its own domain', async () => {
    verifyAll();
    arm.state.linkedDomains = [DOMAIN.toUpperCase(), '/subscriptions/x/other-domain'];
    const { outs } = await linker.create(lInputs());
    expect(outs?.linked).toBe(true);
    expect(arm.state.seen.filter((s) => s.startsWith('PATCH'))).toEqual([]);
    await (linker.delete as NonNullable<typeof linker.delete>)('id', outs as DomainLinkOutputs);
    expect(arm.state.linkedDomains).toEqual(['/subscriptions/x/other-domain']);
  });
});

const rInputs = (namespaces: string[]): ProviderRegistrationInputs => ({
  relaykit: 'provider-registration',
  subscriptionId: SUB,
  tenantId: TENANT,
  namespaces,
  armEndpoint: arm.endpoint,
  polls: 3,
  pollMs: 1,
});

// Issue 16 defect 7: the first `up` on a fresh subscription failed on unregistered providers.
describe('resource-provider registration', () => {
  it('registers what is missing and leaves registered providers alone', async () => {
    await registrar.create(rInputs(['Microsoft.KeyVault', 'Microsoft.Communication']));
    expect(arm.state.seen.filter((s) => s.startsWith('POST'))).toEqual([
      `POST /subscriptions/${SUB}/providers/Microsoft.Communication/register`,
    ]);
    expect(arm.state.providers['Microsoft.Communication']).toBe('Registered');
  });

  it('stops naming the az commands when it may not register', async () => {
    await expect(registrar.create(rInputs(['Microsoft.Forbidden']))).rejects.toThrow(
      `resource providers not registered in subscription ${SUB}: Microsoft.Forbidden (register refused: HTTP 403). Ask a subscription Owner or Contributor to run: az provider register --namespace Microsoft.Forbidden --wait — then run pulumi up again.`,
    );
  });
});

describe('serialised into the state', () => {
  it('the real providers serialise to code that loads without the program (what Pulumi stores)', async () => {
    // The module Pulumi's dynamic-provider host loads the stored code with.
    const requireFromString = createRequire(import.meta.resolve('@pulumi/pulumi/package.json'))(
      'require-from-string',
    ) as (code: string) => Record<string, () => unknown>;
    const text = await pulumi.runtime.serializeFunction(() => domainVerificationProvider);
    expect(text.text).not.toContain(TOKEN);
    expect(text.text).toMatch(/require\(["']@azure\/identity["']\)/);
    const provider = requireFromString(text.text)[text.exportName]?.() as typeof domainVerificationProvider;
    expect(typeof provider.create).toBe('function');
    expect(typeof provider.diff).toBe('function');
  });
});
