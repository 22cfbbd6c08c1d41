// Every object relaykit renders is valid against the Kubernetes 1.37 OpenAPI schemas (and the
// ServiceMonitor / SecretProviderClass CRD schemas), checked by ajv the way `kubectl apply` checks
// fields (unknown fields refused). A broken manifest of each kind fails, naming the field.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type K8sObject, renderManifests, withDefaults } from '../../deploy/kubernetes/manifests.ts';
import { YAML_PATH } from '../../deploy/kubernetes/render.ts';
import { KEY_VAULT_ON } from '../helpers/k8s-options.ts';
import { validateManifest } from '../helpers/k8s-schemas.ts';

// biome-ignore lint/suspicious/noExplicitAny: mutating plain manifest objects by path
type Any = any;

const everything = withDefaults({
  storageClassName: 'managed-csi-premium',
  smtpClientCidrs: ['10.20.0.0/16'],
  serviceMonitor: { enabled: true },
  keyVault: KEY_VAULT_ON,
});
const objectOf = (kind: string): Any =>
  structuredClone(renderManifests(everything).find((o) => o.kind === kind));

describe('Kubernetes OpenAPI schema validation', () => {
  it('relaykit.yaml: every object is valid', () => {
    const docs = parseAllDocuments(readFileSync(YAML_PATH, 'utf8')).map((d) => d.toJS() as K8sObject);
    expect(docs.length).toBe(5);
    for (const o of docs) expect(validateManifest(o), `${o.kind}/${o.metadata.name}`).toEqual([]);
  });

  it('with every option on (ServiceMonitor, Key Vault CSI, client ranges, storage class): valid', () => {
    const objs = renderManifests(everything);
    expect(objs.map((o) => o.kind)).toEqual([
      'StatefulSet',
      'Service',
      'Service',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ServiceMonitor',
      'SecretProviderClass',
    ]);
    for (const o of objs) expect(validateManifest(o), `${o.kind}/${o.metadata.name}`).toEqual([]);
  });

  it('a wrong field type fails', () => {
    const sts = objectOf('StatefulSet');
    sts.spec.replicas = 'two';
    sts.spec.template.spec.containers[0].ports[0].containerPort = '2525';
    expect(validateManifest(sts)).toEqual([
      '/spec/replicas: must be integer',
      '/spec/template/spec/containers/0/ports/0/containerPort: must be integer',
    ]);
  });

  it('an integer out of its format range fails (int32 port, int64 grace period)', () => {
    const sts = objectOf('StatefulSet');
    sts.spec.template.spec.containers[0].ports[0].containerPort = 2 ** 31;
    sts.spec.template.spec.terminationGracePeriodSeconds = 2 ** 63;
    expect(validateManifest(sts)).toEqual([
      '/spec/template/spec/containers/0/ports/0/containerPort: must match format "int32"',
      '/spec/template/spec/terminationGracePeriodSeconds: must match format "int64"',
    ]);
  });

  it('an unknown field fails (kubectl --validate=strict), also under metadata and in a CRD', () => {
    const svc = objectOf('Service');
    svc.spec.externalTraficPolicy = 'Local';
    expect(validateManifest(svc)).toEqual([
      '/spec: must NOT have additional properties (externalTraficPolicy)',
    ]);
    const sts = objectOf('StatefulSet');
    sts.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(validateManifest(sts)).toEqual([
      '/spec/template/spec/containers/0/securityContext: must NOT have additional properties (readOnlyRootFileSystem)',
    ]);
    const sm = objectOf('ServiceMonitor');
    sm.metadata.label = { a: 'b' };
    sm.spec.endpoints[0].bearerToken = 'x';
    expect(validateManifest(sm)).toEqual([
      '/metadata: must NOT have additional properties (label)',
      '/spec/endpoints/0: must NOT have additional properties (bearerToken)',
    ]);
  });

  it('a missing required field fails', () => {
    const sts = objectOf('StatefulSet');
    delete sts.spec.template.spec.containers[0].name;
    delete sts.spec.selector;
    expect(validateManifest(sts)).toEqual([
      "/spec/template/spec/containers/0: must have required property 'name'",
      "/spec: must have required property 'selector'",
    ]);
  });

  it('CRD kinds: enum and type errors fail (ServiceMonitor scheme, SecretProviderClass parameters)', () => {
    const sm = objectOf('ServiceMonitor');
    sm.spec.endpoints[0].scheme = 'ftp';
    sm.spec.endpoints[0].interval = '30 seconds';
    expect(validateManifest(sm)).toEqual([
      '/spec/endpoints/0/interval: must match pattern "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"',
      '/spec/endpoints/0/scheme: must be equal to one of the allowed values',
    ]);
    const spc = objectOf('SecretProviderClass');
    spc.spec.parameters.usePodIdentity = false;
    expect(validateManifest(spc)).toEqual(['/spec/parameters/usePodIdentity: must be string']);
  });
});
