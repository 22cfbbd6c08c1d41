// deploy/kubernetes: the one source of the Kubernetes objects for relaykit (issue 19). A pure
// function of a few options returns plain objects; relaykit.yaml is its output for the defaults
// (a test keeps the two equal, `npm run k8s:render` rewrites it). A Pulumi component and a Helm chart
// are to come from the same function, never from hand-kept copies.
//
// Shape: a StatefulSet (each pod owns its spool on its own PVC; no shared RWX volume), a Service that
// keeps client source addresses (externalTrafficPolicy Local) so the allowlist still works, readiness
// from /readyz (503 from the first moment of a SIGTERM drain), liveness from /healthz, a
// PodDisruptionBudget, the restricted security context, a NetworkPolicy, the config from a Secret.

export interface ManifestOptions {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly replicas: number;
  /** Size of each pod's spool volume. */
  readonly spoolSize: string;
  readonly storageClassName?: string;
  /** Secret holding config.yaml and relaykit-bundle.json (or a Key Vault CSI SecretProviderClass sync). */
  readonly configSecret: string;
  /** SMTP port inside the pod (the config's listener) and on the Service. */
  readonly smtpPort: number;
  readonly servicePort: number;
  /** The config's status port (http.port): /readyz, /healthz, /metrics. */
  readonly statusPort: number;
  /** delivery.drainTimeout in seconds; the grace period must exceed it. */
  readonly drainSeconds: number;
  /** Client ranges allowed to reach SMTP (NetworkPolicy); empty: from anywhere. */
  readonly smtpClientCidrs: readonly string[];
}

export const DEFAULT_OPTIONS: ManifestOptions = {
  name: 'relaykit',
  namespace: 'relaykit',
  image: 'relaykit-appliance:0.1.0',
  replicas: 2,
  spoolSize: '5Gi',
  configSecret: 'relaykit-config',
  smtpPort: 2525,
  servicePort: 25,
  statusPort: 8025,
  drainSeconds: 30,
  smtpClientCidrs: [],
};

type Obj = Record<string, unknown>;

export function renderManifests(o: ManifestOptions = DEFAULT_OPTIONS): Obj[] {
  const labels = { 'app.kubernetes.io/name': 'relaykit', 'app.kubernetes.io/instance': o.name };
  const meta = (name: string) => ({ name, namespace: o.namespace, labels });
  const restricted = {
    runAsNonRoot: true,
    runAsUser: 10025,
    runAsGroup: 10025,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(o.name),
    spec: {
      serviceName: `${o.name}-peers`,
      replicas: o.replicas,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels },
      // Kept on scale-down: a removed pod's spool stays until `queue handoff` has emptied it.
      persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          // drainTimeout plus the time the endpoint takes to leave the Service.
          terminationGracePeriodSeconds: o.drainSeconds + 15,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10025,
            runAsGroup: 10025,
            fsGroup: 10025,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'relaykit',
              image: o.image,
              args: ['run'],
              env: [
                { name: 'RELAYKIT_CONFIG', value: '/etc/relaykit/config.yaml' },
                { name: 'RELAYKIT_BUNDLE', value: '/etc/relaykit/relaykit-bundle.json' },
              ],
              ports: [
                { name: 'smtp', containerPort: o.smtpPort, protocol: 'TCP' },
                { name: 'status', containerPort: o.statusPort, protocol: 'TCP' },
              ],
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'status' },
                periodSeconds: 5,
                failureThreshold: 1,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'status' },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              // Endpoints leave the Service a moment after SIGTERM; keep accepting until they have.
              lifecycle: { preStop: { sleep: { seconds: 5 } } },
              securityContext: restricted,
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              volumeMounts: [
                { name: 'spool', mountPath: '/var/lib/relaykit' },
                { name: 'config', mountPath: '/etc/relaykit', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', secret: { secretName: o.configSecret } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'spool', labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(o.storageClassName ? { storageClassName: o.storageClassName } : {}),
            resources: { requests: { storage: o.spoolSize } },
          },
        },
      ],
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(o.name),
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
    metadata: meta(`${o.name}-peers`),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: false,
      selector: labels,
      ports: [{ name: 'smtp', port: o.smtpPort, targetPort: 'smtp', protocol: 'TCP' }],
    },
  };
  const pdb = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(o.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  };
  const from = o.smtpClientCidrs.map((cidr) => ({ ipBlock: { cidr } }));
  const netpol = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(o.name),
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress'],
      ingress: [
        { ...(from.length ? { from } : {}), ports: [{ port: o.smtpPort, protocol: 'TCP' }] },
        // Probes come from the node; metrics scrapers from the cluster.
        { ports: [{ port: o.statusPort, protocol: 'TCP' }] },
      ],
    },
  };
  return [statefulSet, service, peers, pdb, netpol];
}
