// deploy/kubernetes: the Pulumi component a tenant or MSP stack uses to run relaykit on AKS (or any
// cluster its Kubernetes provider reaches). Thin over the renderer: planResources (pure, tested
// without Pulumi) maps each rendered object to a child resource name and the @pulumi/kubernetes class
// that creates it — typed classes for the built-in kinds, CustomResource for the CRD kinds
// (ServiceMonitor, SecretProviderClass) — and the component only instantiates them.
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { type K8sObject, type OptionOverrides, renderManifests, withDefaults } from './manifests.ts';

export interface RelaykitKubernetesArgs {
  /**
   * Renderer options over DEFAULT_OPTIONS (deploy/kubernetes/options.ts). `name` defaults to the
   * component's name; `namespace` must exist (create it in the stack, or use one the cluster has).
   */
  readonly options?: OptionOverrides;
}

type ResourceClass = new (
  name: string,
  args: Record<string, unknown>,
  opts?: pulumi.CustomResourceOptions,
) => pulumi.CustomResource;

/** apiVersion/kind → the typed class; anything else is a custom resource. */
const TYPED: Readonly<Record<string, ResourceClass>> = {
  'apps/v1/StatefulSet': k8s.apps.v1.StatefulSet as unknown as ResourceClass,
  'v1/Service': k8s.core.v1.Service as unknown as ResourceClass,
  'policy/v1/PodDisruptionBudget': k8s.policy.v1.PodDisruptionBudget as unknown as ResourceClass,
  'networking.k8s.io/v1/NetworkPolicy': k8s.networking.v1.NetworkPolicy as unknown as ResourceClass,
};
const CUSTOM_KINDS = new Set([
  'monitoring.coreos.com/v1/ServiceMonitor',
  'secrets-store.csi.x-k8s.io/v1/SecretProviderClass',
]);

export interface PlannedResource {
  /** Child name: `${component}-${kind}` plus what the object's name adds to the release name. */
  readonly name: string;
  /** "typed" for the built-in kinds, "custom" for CRD kinds. */
  readonly via: 'typed' | 'custom';
  readonly object: K8sObject;
}

/** The objects the component creates, in render order. Refuses a kind it has no class for. */
export function planResources(component: string, overrides: OptionOverrides = {}): PlannedResource[] {
  const options = withDefaults({ name: component, ...overrides });
  return renderManifests(options).map((object) => {
    const key = `${object.apiVersion}/${object.kind}`;
    if (!TYPED[key] && !CUSTOM_KINDS.has(key)) throw new Error(`no Pulumi class for ${key}`);
    const suffix = object.metadata.name.startsWith(options.name)
      ? object.metadata.name.slice(options.name.length)
      : `-${object.metadata.name}`;
    return {
      name: `${component}-${object.kind.toLowerCase()}${suffix}`,
      via: TYPED[key] ? 'typed' : 'custom',
      object,
    };
  });
}

export class RelaykitKubernetes extends pulumi.ComponentResource {
  /** Names of the created objects by child name (for outputs and `queue handoff` peers). */
  readonly objectNames: Record<string, string>;

  constructor(name: string, args: RelaykitKubernetesArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super('relaykit:kubernetes:Relaykit', name, {}, opts);
    const plan = planResources(name, args.options);
    for (const p of plan) {
      const Class =
        TYPED[`${p.object.apiVersion}/${p.object.kind}`] ??
        (k8s.apiextensions.CustomResource as unknown as ResourceClass);
      new Class(p.name, p.object, { parent: this });
    }
    this.objectNames = Object.fromEntries(plan.map((p) => [p.name, p.object.metadata.name]));
    this.registerOutputs({ objectNames: this.objectNames });
  }
}
