// deploy/kubernetes/handoff.ts: the scale-down drain Job mounts the removed pod's retained PVC and
// hands its spool to a peer through the headless Service. Names are the ones Kubernetes documents:
// a StatefulSet's PVC is <claim template>-<statefulset>-<ordinal>, a pod's DNS name
// <pod>.<governing service>.<namespace>.svc.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { handoffJob } from '../../deploy/kubernetes/handoff.ts';
import { renderManifests, withDefaults } from '../../deploy/kubernetes/manifests.ts';
import { validateManifest } from '../helpers/k8s-schemas.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking plain manifest objects
type Any = any;
const SCRIPT = join(import.meta.dirname, '../../deploy/kubernetes/handoff.ts');

describe('queue handoff Job (scale-down drain)', () => {
  it('mounts spool-relaykit-2 and hands off to relaykit-0 through the peers Service', () => {
    const job = handoffJob(withDefaults(), 2) as Any;
    expect(job.metadata).toMatchObject({ name: 'relaykit-handoff-2', namespace: 'relaykit' });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0].args).toEqual([
      'queue',
      'handoff',
      '--to',
      'relaykit-0.relaykit-peers.relaykit.svc:2525',
    ]);
    expect(pod.volumes[0]).toEqual({
      name: 'spool',
      persistentVolumeClaim: { claimName: 'spool-relaykit-2' },
    });
    expect(pod.volumes[1]).toEqual({ name: 'config', secret: { secretName: 'relaykit-config' } });
    expect(pod.containers[0].securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    expect(validateManifest(job)).toEqual([]);
  });

  it('the Job pod is not selected by the relay Services, PDB or StatefulSet', () => {
    const job = handoffJob(withDefaults(), 1) as Any;
    const labels = job.spec.template.metadata.labels;
    for (const o of renderManifests() as Any[]) {
      const sel = o.spec.selector?.matchLabels ?? o.spec.selector ?? o.spec.podSelector?.matchLabels;
      const selected = Object.entries(sel).every(([k, v]) => labels[k] === v);
      expect(selected, `${o.kind}/${o.metadata.name}`).toBe(false);
    }
  });

  it('with client ranges on the NetworkPolicy, the Job pods may still reach SMTP', () => {
    const o = withDefaults({ smtpClientCidrs: ['10.20.0.0/16'] });
    const netpol = renderManifests(o).find((x) => x.kind === 'NetworkPolicy') as Any;
    const job = handoffJob(o, 1) as Any;
    expect(netpol.spec.ingress[0].from).toEqual([
      { ipBlock: { cidr: '10.20.0.0/16' } },
      { podSelector: { matchLabels: job.spec.template.metadata.labels } },
    ]);
  });

  it('with Key Vault CSI, the Job reads the config the same way (service account + csi volume)', () => {
    const o = withDefaults({ keyVault: { enabled: true, vaultName: 'kv1', tenantId: 't', clientId: 'c' } });
    const pod = (handoffJob(o, 3, 1) as Any).spec.template.spec;
    expect(pod.serviceAccountName).toBe('relaykit');
    expect(pod.volumes[1].csi.volumeAttributes).toEqual({ secretProviderClass: 'relaykit-config' });
    expect(pod.containers[0].args[3]).toBe('relaykit-1.relaykit-peers.relaykit.svc:2525');
    expect(validateManifest(handoffJob(o, 3, 1))).toEqual([]);
  });

  it('refuses to hand a pod its own spool, and a negative ordinal', () => {
    expect(() => handoffJob(withDefaults(), 0, 0)).toThrow('the peer must be another pod than relaykit-0');
    expect(() => handoffJob(withDefaults(), -1)).toThrow('pod ordinal must be 0 or more');
  });

  it('npm run k8s:handoff prints the Job for kubectl; no ordinal → usage, exit 2', () => {
    const out = execFileSync(process.execPath, [SCRIPT, '2', '--namespace', 'mail', '--peer', '1'], {
      encoding: 'utf8',
    });
    expect(parse(out)).toEqual(handoffJob(withDefaults({ namespace: 'mail' }), 2, 1));
    const bad = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^usage: npm run -s k8s:handoff -- ORDINAL/);
  });
});
