// deploy/kubernetes (issue 19): the committed YAML is exactly the renderer's output, and the objects
// hold what the issue asks for (values as the Kubernetes API documents them).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderManifests } from '../../deploy/kubernetes/manifests.ts';
import { renderYaml } from '../../deploy/kubernetes/render.ts';

const YAML_PATH = join(import.meta.dirname, '../../deploy/kubernetes/relaykit.yaml');

// biome-ignore lint/suspicious/noExplicitAny: walking plain manifest objects
type Any = any;

describe('kubernetes manifests', () => {
  it('relaykit.yaml is the renderer output (run `npm run k8s:render` after changing manifests.ts)', () => {
    expect(readFileSync(YAML_PATH, 'utf8')).toBe(renderYaml());
    const docs = parseAllDocuments(readFileSync(YAML_PATH, 'utf8')).map((d) => d.toJS());
    expect(docs).toEqual(renderManifests());
  });

  it('per-pod spool PVCs, source-preserving Service, probes, PDB, restricted pods, NetworkPolicy', () => {
    const objs = renderManifests() as Any[];
    expect(objs.map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([
      'apps/v1/StatefulSet',
      'v1/Service',
      'v1/Service',
      'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy',
    ]);
    const [sts, svc, , pdb] = objs;
    expect(sts.spec.volumeClaimTemplates[0].spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy.whenScaled).toBe('Retain');
    const c = sts.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
    expect(pdb.spec.maxUnavailable).toBe(1);
  });
});
