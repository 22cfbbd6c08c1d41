// deploy/kubernetes: the Helm chart (deploy/helm/relaykit), generated from the same renderer as
// relaykit.yaml. The renderer runs once with symbolic options — every option a `⟪.Values.x⟫`
// expression, the name and namespace the release's — and the objects it returns are written as
// templates: a symbolic scalar becomes `{{ … }}`, and the markers values.ts leaves become
// `{{ if }}`, `{{ if not }}` and `{{ range }}` blocks. values.yaml is DEFAULT_OPTIONS (less name and
// namespace, which are the release's) and values.schema.json their types, so a mistyped value fails
// `helm install` / `helm lint` instead of rendering a wrong manifest.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { renderManifests } from './manifests.ts';
import { DEFAULT_OPTIONS, type ManifestOptions } from './options.ts';
import { CLOSE, DOC_IF, exprOf, IF, IF_NOT, isSymbolic, OPEN, RANGE } from './values.ts';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Chart values: the renderer's options without the two the release supplies. */
export type ChartValues = Omit<ManifestOptions, 'name' | 'namespace'>;

export function defaultValues(): ChartValues {
  const { name: _n, namespace: _ns, ...values } = DEFAULT_OPTIONS;
  return values;
}

/** The renderer's options as Helm expressions (`⟪.Values.replicas⟫`, `⟪.Release.Name⟫`). */
export function symbolicOptions(): ManifestOptions {
  const sym = (v: unknown, path: string): unknown => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sym(x, `${path}.${k}`)]));
    }
    return `${OPEN}${path}${CLOSE}`;
  };
  return {
    ...(sym(defaultValues(), '.Values') as ChartValues),
    name: `${OPEN}.Release.Name${CLOSE}`,
    namespace: `${OPEN}.Release.Namespace${CLOSE}`,
  };
}

/** True when a whole-symbolic scalar is a number or boolean (written bare, not quoted). */
function isBareExpr(expr: string): boolean {
  if (expr.startsWith('add ')) return true;
  if (!expr.startsWith('.Values.')) return false;
  let v: unknown = defaultValues();
  for (const k of expr.slice('.Values.'.length).split('.')) v = (v as Record<string, unknown>)[k];
  return typeof v === 'number' || typeof v === 'boolean';
}

const MARKER = new RegExp(`${OPEN}(.*?)${CLOSE}`, 'g');

function scalar(v: Json): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  if (isSymbolic(v) && v.indexOf(OPEN, 1) < 0 && isBareExpr(exprOf(v))) return `{{ ${exprOf(v)} }}`;
  // A double-quoted YAML string; values land inside it as they are (names, sizes, IDs: no quotes).
  return JSON.stringify(v).replace(MARKER, (_m, e: string) => `{{ ${e} }}`);
}

/** The condition line a key prefix asks for, and the key without it. */
function conditionOf(key: string): { open?: string; key: string } {
  for (const [prefix, form] of [
    [IF, 'if'],
    [IF_NOT, 'if not'],
  ] as const) {
    if (key.startsWith(prefix)) {
      const end = key.indexOf(CLOSE);
      return { open: `{{- ${form} ${key.slice(prefix.length, end)} }}`, key: key.slice(end + 1) };
    }
  }
  return { key };
}

function emitValue(key: string, v: Json, pad: string): string[] {
  if (Array.isArray(v))
    return v.length ? [`${pad}${key}:`, ...emitList(v, `${pad}  `)] : [`${pad}${key}: []`];
  if (v !== null && typeof v === 'object') {
    return Object.keys(v).length ? [`${pad}${key}:`, ...emitObject(v, `${pad}  `)] : [`${pad}${key}: {}`];
  }
  return [`${pad}${key}: ${scalar(v)}`];
}

function emitObject(o: { [k: string]: Json }, pad: string): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const c = conditionOf(k);
    const lines = emitValue(c.key, v, pad);
    return c.open ? [`${pad}${c.open}`, ...lines, `${pad}{{- end }}`] : lines;
  });
}

function emitList(items: Json[], pad: string): string[] {
  return items.flatMap((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return [`${pad}- ${scalar(item)}`];
    const [first, ...rest] = Object.keys(item);
    let range: string | undefined;
    let body = item;
    if (first?.startsWith(RANGE)) {
      range = first.slice(RANGE.length, -CLOSE.length);
      body = Object.fromEntries(rest.map((k) => [k, item[k] as Json]));
    }
    if (conditionOf(Object.keys(body)[0] ?? '').open) {
      throw new Error('helm chart: the first key of a list item cannot be conditional');
    }
    const lines = emitObject(body, `${pad}  `);
    lines[0] = `${pad}- ${lines[0]?.slice(pad.length + 2)}`;
    // Inside {{ range }} the dot is the item: .Values and .Release would not resolve there.
    if (range && lines.some((l) => /\{\{ [^}]*\.(Values|Release)\./.test(l))) {
      throw new Error('helm chart: a ranged list item can use only the item ({{ . }})');
    }
    return range ? [`${pad}{{- range ${range} }}`, ...lines, `${pad}{{- end }}`] : lines;
  });
}

/** One template file: the object as YAML with its `{{ }}` blocks; DOC_IF wraps the whole file. */
export function templateOf(obj: Record<string, unknown>): string {
  const [first] = Object.keys(obj);
  const body = { ...obj } as { [k: string]: Json };
  let docIf: string | undefined;
  if (first?.startsWith(DOC_IF)) {
    docIf = first.slice(DOC_IF.length, -CLOSE.length);
    delete body[first];
  }
  const lines = emitObject(body, '');
  return docIf ? `{{- if ${docIf} }}\n${lines.join('\n')}\n{{- end }}\n` : `${lines.join('\n')}\n`;
}

/** Template file name: kind, plus what the object's name adds to the release name. */
function templateName(obj: { kind: string; metadata: { name: string } }): string {
  const suffix = obj.metadata.name.replace(`${OPEN}.Release.Name${CLOSE}`, '');
  return `${obj.kind.toLowerCase()}${suffix}.yaml`;
}

function schemaOf(v: unknown): Json {
  if (Array.isArray(v)) return { type: 'array', items: { type: 'string' } };
  if (v !== null && typeof v === 'object') {
    return {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, schemaOf(x)])),
    };
  }
  if (typeof v === 'number') return { type: 'integer', minimum: 0 };
  return { type: typeof v as 'string' | 'boolean' };
}

const GENERATED =
  'Generated by `npm run k8s:render` from deploy/kubernetes/manifests.ts; do not edit by hand.';

/** Every file of the chart, by path inside deploy/helm/relaykit. */
export function chartFiles(): Record<string, string> {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const chart = {
    apiVersion: 'v2',
    name: 'relaykit',
    description: 'relaykit SMTP relay for Microsoft 365: a StatefulSet with a spool volume per pod',
    type: 'application',
    version,
    appVersion: version,
    // preStop sleep (on by default since 1.30) and the PVC retention policy.
    kubeVersion: '>=1.30.0-0',
  };
  const files: Record<string, string> = {
    'Chart.yaml': `# ${GENERATED}\n${stringify(chart)}`,
    'values.yaml': `# ${GENERATED}\n# Each value is an option of the renderer, documented in deploy/kubernetes/options.ts.\n${stringify(defaultValues())}`,
    'values.schema.json': `${JSON.stringify(
      { $schema: 'https://json-schema.org/draft-07/schema#', ...(schemaOf(defaultValues()) as object) },
      null,
      2,
    )}\n`,
  };
  for (const obj of renderManifests(symbolicOptions())) {
    files[`templates/${templateName(obj)}`] = `# ${GENERATED}\n${templateOf(obj)}`;
  }
  return files;
}
