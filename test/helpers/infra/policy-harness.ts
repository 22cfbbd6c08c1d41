// Test helpers for the policy pack: hand-built ResourceValidationArgs / StackValidationArgs with the
// policy's configSchema defaults applied (as the Pulumi engine does), and a runner that collects the
// reported messages. Also converts the mock cloud's recorded registrations into policy inputs.
import type {
  PolicyProviderResource,
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from '@pulumi/policy';
import { type RecordedResource, unwrapSecrets } from '../../../infra/mock-cloud.ts';

class NotApplicable extends Error {}

export function configDefaults(policy: { configSchema?: { properties: Record<string, unknown> } }) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(policy.configSchema?.properties ?? {})) {
    const d = (v as { default?: unknown }).default;
    if (d !== undefined) out[k] = d;
  }
  return out;
}

export interface ArgsOptions {
  name?: string;
  provider?: PolicyProviderResource;
  config?: Record<string, unknown>;
}

export const TENANT_PROVIDERS: Record<string, PolicyProviderResource> = {
  'azure-native': {
    type: 'pulumi:providers:azure-native',
    name: 'fabrikam-azure-native',
    urn: 'urn:pulumi:test::relaykit::pulumi:providers:azure-native::fabrikam-azure-native',
    props: {
      tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90',
      subscriptionId: '2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f',
    },
  },
  azuread: {
    type: 'pulumi:providers:azuread',
    name: 'fabrikam-azuread',
    urn: 'urn:pulumi:test::relaykit::pulumi:providers:azuread::fabrikam-azuread',
    props: { tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90' },
  },
};

function providerFor(type: string): PolicyProviderResource | undefined {
  return TENANT_PROVIDERS[type.split(':')[0] ?? ''];
}

export function resourceArgs(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  opts: ArgsOptions = {},
): ResourceValidationArgs {
  const name = opts.name ?? 'subject';
  const provider = 'provider' in opts ? opts.provider : providerFor(type);
  return {
    type,
    props,
    urn: `urn:pulumi:test::relaykit::${type}::${name}`,
    name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    ...(provider === undefined ? {} : { provider }),
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({ ...configDefaults(policy), ...opts.config }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/** Messages a resource policy reports for one resource. */
export async function violations(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  opts: ArgsOptions = {},
): Promise<string[]> {
  const out: string[] = [];
  const fns = [policy.validateResource ?? []].flat();
  for (const fn of fns) {
    try {
      await fn(resourceArgs(policy, type, props, opts), (m) => out.push(m));
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  return out;
}

export function policyResource(
  type: string,
  props: Record<string, unknown>,
  name: string,
  provider?: PolicyProviderResource,
  graph: { urn?: string; dependencies?: PolicyResource[] } = {},
): PolicyResource {
  return {
    type,
    props,
    urn: graph.urn ?? `urn:pulumi:test::relaykit::${type}::${name}`,
    name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    ...(provider === undefined ? {} : { provider }),
    dependencies: graph.dependencies ?? [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  };
}

export async function stackViolations(
  policy: StackValidationPolicy,
  resources: PolicyResource[],
  config: Record<string, unknown> = {},
): Promise<Array<{ message: string; urn?: string }>> {
  const out: Array<{ message: string; urn?: string }> = [];
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => ({ ...configDefaults(policy), ...config }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
  try {
    await policy.validateStack(args, (message, urn) =>
      out.push({ message, ...(urn === undefined ? {} : { urn }) }),
    );
  } catch (err) {
    if (!(err instanceof NotApplicable)) throw err;
  }
  return out;
}

/**
 * The mock cloud's registrations as policy resources: inputs with secrets unwrapped (the engine
 * hands policies plain values) and the provider reference resolved to the provider's own inputs.
 */
export function recordedToPolicyResources(recorded: readonly RecordedResource[]): PolicyResource[] {
  const providers = new Map<string, PolicyProviderResource>();
  for (const r of recorded) {
    if (r.type.startsWith('pulumi:providers:')) {
      providers.set(r.name, {
        type: r.type,
        name: r.name,
        urn: `urn:pulumi:example::relaykit::${r.type}::${r.name}`,
        props: unwrapSecrets(r.inputs) as Record<string, unknown>,
      });
    }
  }
  const byUrn = new Map<string, PolicyResource>();
  const wanted = new Map<PolicyResource, readonly string[]>();
  const out = recorded
    .filter((r) => r.custom)
    .map((r) => {
      // The mock monitor passes "<provider URN>::<provider ID>"; the URN ends with "::<name>".
      const urn = r.provider?.split('::').slice(0, -1).join('::');
      const providerName = urn?.split('::').pop();
      const resource = policyResource(
        r.type,
        unwrapSecrets(r.inputs) as Record<string, unknown>,
        r.name,
        providerName === undefined ? undefined : providers.get(providerName),
        // URNs as the monitor gave them; dependencies resolved below (locks and diagnostics match on them).
        r.options === undefined ? {} : { urn: r.options.urn },
      );
      byUrn.set(resource.urn, resource);
      wanted.set(resource, r.options?.dependencies ?? []);
      return resource;
    });
  for (const [resource, urns] of wanted) {
    resource.dependencies.push(...urns.flatMap((u) => byUrn.get(u) ?? []));
  }
  return out;
}
