// deploy/kubernetes: the relaykit StatefulSet — one spool PVC per pod (kept on scale-down until
// `queue handoff` has emptied it), readiness from /readyz (503 from the first moment of a SIGTERM
// drain), liveness from /healthz, the restricted Pod Security profile, config from a Secret or the
// Key Vault CSI driver (addons.ts).
import { configVolume } from './addons.ts';
import { type ManifestOptions, metadata, selectorLabels } from './options.ts';
import { plus, when } from './values.ts';

/** The image's user and group (appliance/image: uid/gid 10025). */
const RELAYKIT_UID = 10025;

/** The restricted Pod Security profile for the relay container (and the handoff Job's). */
export const restrictedContainer = {
  runAsNonRoot: true,
  runAsUser: RELAYKIT_UID,
  runAsGroup: RELAYKIT_UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export const RELAYKIT_ENV = [
  { name: 'RELAYKIT_CONFIG', value: '/etc/relaykit/config.yaml' },
  { name: 'RELAYKIT_BUNDLE', value: '/etc/relaykit/relaykit-bundle.json' },
];

/** Pod-level fields shared by the relay pods and the handoff Job. */
export function podSecurity(o: ManifestOptions) {
  return {
    // The Key Vault CSI driver requests this account's token itself; the relay never needs one.
    ...when(o.keyVault.enabled, 'serviceAccountName', () => o.keyVault.serviceAccountName),
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RELAYKIT_UID,
      runAsGroup: RELAYKIT_UID,
      fsGroup: RELAYKIT_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

export function statefulSet(o: ManifestOptions) {
  const labels = selectorLabels(o);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(o, o.name),
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
          ...podSecurity(o),
          // drainTimeout plus the time the endpoint takes to leave the Service.
          terminationGracePeriodSeconds: plus(o.drainSeconds, 15),
          containers: [
            {
              name: 'relaykit',
              image: o.image,
              args: ['run'],
              env: RELAYKIT_ENV,
              ports: [
                { name: 'smtp', containerPort: o.smtpPort, protocol: 'TCP' },
                { name: 'status', containerPort: o.statusPort, protocol: 'TCP' },
                { name: 'admin', containerPort: o.adminPort, protocol: 'TCP' },
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
              securityContext: restrictedContainer,
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              volumeMounts: [
                { name: 'spool', mountPath: '/var/lib/relaykit' },
                { name: 'config', mountPath: '/etc/relaykit', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [configVolume(o), { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'spool', labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...when(o.storageClassName, 'storageClassName', () => o.storageClassName),
            resources: { requests: { storage: o.spoolSize } },
          },
        },
      ],
    },
  };
}
