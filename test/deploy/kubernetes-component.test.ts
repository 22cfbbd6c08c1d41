// deploy/kubernetes/component.ts under Pulumi mocks (no CLI, no cluster): what the component
// registers — types, names, namespace and the fields that keep the spool's promise — is what the
// renderer produced, created through the @pulumi/kubernetes classes the issue names.
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { planResources } from '../../deploy/kubernetes/component.ts';
import { renderManifests, withDefaults } from '../../deploy/kubernetes/manifests.ts';
import { settle } from '../../infra/mock-cloud.ts';
import { KEY_VAULT_ON } from '../helpers/k8s-options.ts';
import { validateManifest } from '../helpers/k8s-schemas.ts';

// biome-ignore lint/suspicious/noExplicitAny: registered inputs are plain JSON walked by path
type Any = any;
interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Any;
}
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'relaykit',
    'aks',
    false,
  );
});

const byName = (name: string): Registered => {
  const r = registered.find((x) => x.name === name);
  if (r === undefined) throw new Error(`nothing registered as ${name}`);
  return r;
};

describe('RelaykitKubernetes (Pulumi component over the renderer)', () => {
  it('registers the typed Kubernetes resources with the rendered objects', async () => {
    const { RelaykitKubernetes } = await import('../../deploy/kubernetes/component.ts');
    const rk = new RelaykitKubernetes('relay', { options: { namespace: 'mail', replicas: 3 } });
    await settle(pulumi.runtime);
    const mine = registered.filter((r) => r.name.startsWith('relay'));
    // Type tokens as @pulumi/kubernetes documents them (kubernetes:<group/version>:<Kind>).
    expect(mine.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      'kubernetes:apps/v1:StatefulSet relay-statefulset',
      'kubernetes:core/v1:Service relay-service',
      'kubernetes:core/v1:Service relay-service-peers',
      'kubernetes:networking.k8s.io/v1:NetworkPolicy relay-networkpolicy',
      'kubernetes:policy/v1:PodDisruptionBudget relay-poddisruptionbudget',
      'relaykit:kubernetes:Relaykit relay',
    ]);
    for (const r of mine.filter((x) => x.type !== 'relaykit:kubernetes:Relaykit')) {
      expect(r.inputs.metadata.namespace).toBe('mail');
      expect(r.inputs.metadata.labels).toEqual({
        'app.kubernetes.io/name': 'relaykit',
        'app.kubernetes.io/instance': 'relay',
        ...(r.name === 'relay-service-peers' ? { 'app.kubernetes.io/component': 'peers' } : {}),
      });
    }
    const sts = byName('relay-statefulset').inputs;
    expect(sts.metadata.name).toBe('relay');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe('relay-peers');
    expect(sts.spec.volumeClaimTemplates).toEqual([
      {
        metadata: {
          name: 'spool',
          labels: { 'app.kubernetes.io/name': 'relaykit', 'app.kubernetes.io/instance': 'relay' },
        },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
      },
    ]);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({
      whenScaled: 'Retain',
      whenDeleted: 'Retain',
    });
    const pod = sts.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0].securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10025,
      runAsGroup: 10025,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const svc = byName('relay-service').inputs;
    expect(svc.spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    expect(svc.spec.ports).toEqual([{ name: 'smtp', port: 25, targetPort: 'smtp', protocol: 'TCP' }]);
    expect(byName('relay-service-peers').inputs.spec.clusterIP).toBe('None');
    expect(byName('relay-poddisruptionbudget').inputs.spec.maxUnavailable).toBe(1);
    expect(rk.objectNames['relay-service-peers']).toBe('relay-peers');
  });

  it('registers exactly what the renderer renders, and each registered object is schema-valid', async () => {
    const options = withDefaults({ name: 'relay', namespace: 'mail', replicas: 3 });
    const rendered = renderManifests(options);
    for (const object of rendered) {
      const plan = planResources('relay', { namespace: 'mail', replicas: 3 }).find(
        (p) => p.object.kind === object.kind && p.object.metadata.name === object.metadata.name,
      );
      const r = byName(plan?.name ?? '?');
      expect(r.inputs).toEqual(object);
      expect(validateManifest(r.inputs)).toEqual([]);
    }
  });

  it('creates the ServiceMonitor and SecretProviderClass as custom resources when enabled', async () => {
    const { RelaykitKubernetes } = await import('../../deploy/kubernetes/component.ts');
    new RelaykitKubernetes('msp', {
      options: {
        namespace: 'mail',
        serviceMonitor: { enabled: true },
        keyVault: KEY_VAULT_ON,
      },
    });
    await settle(pulumi.runtime);
    const sm = byName('msp-servicemonitor');
    expect(sm.type).toBe('kubernetes:monitoring.coreos.com/v1:ServiceMonitor');
    expect(sm.inputs.spec.endpoints[0]).toMatchObject({
      port: 'admin',
      path: '/metrics',
      authorization: { type: 'Bearer', credentials: { name: 'relaykit-monitoring', key: 'token' } },
    });
    const spc = byName('msp-secretproviderclass-config');
    expect(spc.type).toBe('kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass');
    expect(spc.inputs.metadata).toMatchObject({ name: 'msp-config', namespace: 'mail' });
    const pod = byName('msp-statefulset').inputs.spec.template.spec;
    expect(pod.serviceAccountName).toBe('relaykit');
    expect(pod.volumes[0]).toEqual({
      name: 'config',
      csi: {
        driver: 'secrets-store.csi.k8s.io',
        readOnly: true,
        volumeAttributes: { secretProviderClass: 'msp-config' },
      },
    });
    for (const r of registered.filter((x) => x.name.startsWith('msp-'))) {
      expect(validateManifest(r.inputs)).toEqual([]);
    }
  });
});
