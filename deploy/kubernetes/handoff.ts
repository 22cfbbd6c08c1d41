// deploy/kubernetes: the scale-down drain as a Job. After `kubectl scale` removed pod N, its PVC
// (spool-NAME-N) is retained with whatever it still held; this Job mounts that PVC with the same
// config and runs `relaykit-appliance queue handoff --to` a peer, which removes each message only
// after the peer's 250 and exits non-zero while any is kept (the Job then retries). Delete the PVC
// only after the Job completed. `npm run k8s:handoff -- N` prints it for kubectl.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { configVolume } from './addons.ts';
import {
  handoffLabels,
  type K8sObject,
  type ManifestOptions,
  type OptionOverrides,
  withDefaults,
} from './options.ts';
import { podSecurity, RELAYKIT_ENV, restrictedContainer } from './workload.ts';

/** The peer's SMTP address through the headless Service: NAME-P.NAME-peers.NAMESPACE.svc:PORT. */
export function peerAddress(o: ManifestOptions, peer: number): string {
  return `${o.name}-${peer}.${o.name}-peers.${o.namespace}.svc:${o.smtpPort}`;
}

export function handoffJob(o: ManifestOptions, ordinal: number, peer = 0): K8sObject {
  if (!Number.isInteger(ordinal) || ordinal < 0)
    throw new Error(`pod ordinal must be 0 or more, got ${ordinal}`);
  if (peer === ordinal) throw new Error(`the peer must be another pod than ${o.name}-${ordinal}`);
  const labels = handoffLabels(o);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${o.name}-handoff-${ordinal}`, namespace: o.namespace, labels },
    spec: {
      backoffLimit: 6,
      // Kept a day so its log (each message handed off or kept, with the peer's reply) can be read.
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...podSecurity(o),
          containers: [
            {
              name: 'handoff',
              image: o.image,
              args: ['queue', 'handoff', '--to', peerAddress(o, peer)],
              env: RELAYKIT_ENV,
              securityContext: restrictedContainer,
              volumeMounts: [
                { name: 'spool', mountPath: '/var/lib/relaykit' },
                { name: 'config', mountPath: '/etc/relaykit', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'spool', persistentVolumeClaim: { claimName: `spool-${o.name}-${ordinal}` } },
            configVolume(o),
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      peer: { type: 'string', default: '0' },
      name: { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write(
      'usage: npm run -s k8s:handoff -- ORDINAL [--peer N] [--name NAME] [--namespace NS] [--image IMAGE]\n',
    );
    process.exit(2);
  }
  const over: OptionOverrides = Object.fromEntries(
    Object.entries({ name: values.name, namespace: values.namespace, image: values.image }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  process.stdout.write(
    stringify(handoffJob(withDefaults(over), Number(positionals[0]), Number(values.peer))),
  );
}
