// deploy/kubernetes: the one source of the Kubernetes objects for relaykit (issue 19). A pure
// function of a few options returns plain objects; from it come relaykit.yaml (kubectl, Argo, Flux),
// the Helm chart in deploy/helm/relaykit (render.ts, helm-chart.ts) and the Pulumi component
// (component.ts). Tests keep the committed files equal to the renderer and validate every object
// against the Kubernetes OpenAPI schemas.
//
// Shape: a StatefulSet (each pod owns its spool on its own PVC; no shared RWX volume; workload.ts), a
// Service that keeps client source addresses (externalTrafficPolicy Local) so the allowlist still
// works, a headless peers Service (stable pod names for `queue handoff`, metrics endpoints), a
// PodDisruptionBudget, a NetworkPolicy; optional ServiceMonitor and Key Vault CSI SecretProviderClass
// (addons.ts). Where an option does more than substitute a value, values.ts helpers keep it
// expressible as a Helm template.
import { keyVaultProviderClass, serviceMonitor } from './addons.ts';
import {
  DEFAULT_OPTIONS,
  handoffLabels,
  type K8sObject,
  type ManifestOptions,
  metadata,
  peersLabels,
  selectorLabels,
} from './options.ts';
import { each, nonEmpty, when } from './values.ts';
import { statefulSet } from './workload.ts';

export * from './options.ts';

export function renderManifests(o: ManifestOptions = DEFAULT_OPTIONS): K8sObject[] {
  const labels = selectorLabels(o);
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(o, o.name),
    spec: {
      type: 'LoadBalancer',
      // Keeps the client source address (no SNAT), so identity networks still decide.
      externalTrafficPolicy: 'Local',
      selector: labels,
      ports: [{ name: 'smtp', port: o.servicePort, targetPort: 'smtp', protocol: 'TCP' }],
    },
  };
  const peers = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(o, `${o.name}-peers`, peersLabels(o)),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: false,
      selector: labels,
      ports: [
        { name: 'smtp', port: o.smtpPort, targetPort: 'smtp', protocol: 'TCP' },
        { name: 'admin', port: o.adminPort, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  };
  const pdb = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(o, o.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  };
  const netpol = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(o, o.name),
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [{ port: o.smtpPort, protocol: 'TCP' }],
          // With client ranges set, the handoff Job (deploy/kubernetes/handoff.ts) still reaches peers.
          ...when(nonEmpty(o.smtpClientCidrs), 'from', () => [
            ...each(o.smtpClientCidrs, (cidr) => ({ ipBlock: { cidr } })),
            { podSelector: { matchLabels: handoffLabels(o) } },
          ]),
        },
        // Probes come from the node; metrics scrapers (status port, admin listener) from the cluster.
        {
          ports: [
            { port: o.statusPort, protocol: 'TCP' },
            { port: o.adminPort, protocol: 'TCP' },
          ],
        },
      ],
    },
  };
  return [
    statefulSet(o),
    service,
    peers,
    pdb,
    netpol,
    ...serviceMonitor(o),
    ...keyVaultProviderClass(o),
  ] as K8sObject[];
}
