// deploy/helm/relaykit: the committed chart is the generator's output, `helm lint` accepts it, and
// `helm template` gives the renderer's objects — with the default values exactly relaykit.yaml, with
// other values exactly renderManifests of the same options — each valid against the Kubernetes
// OpenAPI schemas. helm is built from Go modules by .ci/install/70-helm.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { chartFiles } from '../../deploy/kubernetes/helm-chart.ts';
import {
  type K8sObject,
  type OptionOverrides,
  renderManifests,
  withDefaults,
} from '../../deploy/kubernetes/manifests.ts';
import { CHART_DIR, YAML_PATH } from '../../deploy/kubernetes/render.ts';
import { KEY_VAULT_ON } from '../helpers/k8s-options.ts';
import { validateManifest } from '../helpers/k8s-schemas.ts';
import { missing, type SkipContext } from '../helpers/tools.ts';

const work = mkdtempSync(join(tmpdir(), 'relaykit-helm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function helmPath(ctx: SkipContext): string {
  const found = spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim();
  if (!found) missing(ctx, 'helm is not installed (bash .ci/install/70-helm.sh builds it from Go modules)');
  return found;
}

function helmTemplate(helm: string, values: Record<string, unknown> = {}): K8sObject[] {
  const file = join(work, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const out = execFileSync(helm, ['template', 'relay', CHART_DIR, '--namespace', 'mail', '-f', file], {
    encoding: 'utf8',
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
const sorted = (objs: K8sObject[]) => [...objs].sort((a, b) => key(a).localeCompare(key(b)));

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('Helm chart', () => {
  it('the committed chart is the generator output (run `npm run k8s:render` after changing the renderer)', () => {
    const files = chartFiles();
    expect(listFiles(CHART_DIR)).toEqual(Object.keys(files).sort());
    for (const [path, text] of Object.entries(files)) {
      expect(readFileSync(join(CHART_DIR, path), 'utf8'), path).toBe(text);
    }
  });

  it('helm lint passes, and refuses a value of the wrong type (values.schema.json)', (ctx) => {
    const helm = helmPath(ctx);
    const lint = spawnSync(helm, ['lint', CHART_DIR, '--strict'], { encoding: 'utf8' });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const bad = spawnSync(helm, ['lint', CHART_DIR, '--set', 'replicas=two'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/replicas/);
    const typo = spawnSync(helm, ['template', 'x', CHART_DIR, '--set', 'replica=3'], { encoding: 'utf8' });
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toMatch(/replica/);
  });

  it('helm template with the default values gives the objects of relaykit.yaml', (ctx) => {
    const helm = helmPath(ctx);
    const out = execFileSync(helm, ['template', 'relaykit', CHART_DIR, '--namespace', 'relaykit'], {
      encoding: 'utf8',
    });
    const fromHelm = parseAllDocuments(out)
      .map((d) => d.toJS())
      .filter((o) => o !== null);
    const fromYaml = parseAllDocuments(readFileSync(YAML_PATH, 'utf8')).map((d) => d.toJS());
    expect(sorted(fromHelm)).toEqual(sorted(fromYaml));
    expect(fromHelm).toHaveLength(5);
    for (const o of fromHelm) expect(validateManifest(o), key(o)).toEqual([]);
  });

  it('helm template with other values gives renderManifests of the same options', (ctx) => {
    const helm = helmPath(ctx);
    const cases: OptionOverrides[] = [
      {
        replicas: 3,
        image: 'registry.contoso.example/relaykit-appliance:0.2.0',
        storageClassName: 'managed-csi-premium',
        drainSeconds: 60,
        smtpClientCidrs: ['10.20.0.0/16', '192.0.2.0/24'],
        serviceMonitor: { enabled: true, interval: '15s' },
      },
      {
        keyVault: { ...KEY_VAULT_ON, serviceAccountName: 'relaykit-wi' },
      },
    ];
    for (const values of cases) {
      const fromHelm = helmTemplate(helm, values as Record<string, unknown>);
      const expected = renderManifests(withDefaults({ ...values, name: 'relay', namespace: 'mail' }));
      expect(sorted(fromHelm)).toEqual(sorted(expected));
      for (const o of fromHelm) expect(validateManifest(o), key(o)).toEqual([]);
    }
  });

  it('helm is the version .ci/install/70-helm.sh builds', (ctx) => {
    const helm = helmPath(ctx);
    const script = readFileSync(join(import.meta.dirname, '../../.ci/install/70-helm.sh'), 'utf8');
    const version = /^version=(v[0-9.]+)/m.exec(script)?.[1];
    expect(version).toBeDefined();
    expect(existsSync(helm)).toBe(true);
    expect(execFileSync(helm, ['version', '--short'], { encoding: 'utf8' })).toContain(version);
  });
});
