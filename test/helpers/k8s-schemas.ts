// Test helper: validates a Kubernetes object against the OpenAPI schemas of its kind with ajv —
// built-in kinds from the Kubernetes 1.37 OpenAPI v3 definitions (test/fixtures/k8s-schemas, made by
// .ci/tools/k8s-openapi/generate.sh from k8s.io/api v0.37.2), ServiceMonitor and SecretProviderClass
// from their CRDs' openAPIV3Schema (sources in test/fixtures/k8s-schemas/SOURCES.md).
//
// Strict like `kubectl apply` (server-side field validation "Strict", kubectl's default): an object
// schema that lists its properties and says nothing of others refuses unknown fields; CRD metadata is
// checked as ObjectMeta, as the API server does. Formats are Kubernetes' (int32/int64 ranges,
// date-time); a type error, a missing required field or an unknown field is an error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const DIR = join(import.meta.dirname, '../fixtures/k8s-schemas');
const REF = '#/components/schemas/';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

type Schema = Record<string, unknown>;

/** Closes every object schema that lists properties and allows no others explicitly. */
function strict(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strict);
  if (s === null || typeof s !== 'object') return s;
  const o = Object.fromEntries(
    Object.entries(s as Schema).map(([k, v]) => [
      k,
      // Property names are data, not keywords: recurse into each property's schema.
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Schema).map(([p, ps]) => [p, strict(ps)]))
        : strict(v),
    ]),
  ) as Schema;
  if (o.properties && o.additionalProperties === undefined && !o['x-kubernetes-preserve-unknown-fields']) {
    o.additionalProperties = false;
  }
  return o;
}

const CRDS: Readonly<Record<string, string>> = {
  'monitoring.coreos.com/v1/ServiceMonitor': 'servicemonitor-v1.json',
  'secrets-store.csi.x-k8s.io/v1/SecretProviderClass': 'secretproviderclass-v1.json',
};

/** Definition name of a built-in kind: apps/v1 StatefulSet → io.k8s.api.apps.v1.StatefulSet. */
export function definitionOf(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `io.k8s.api.${group?.split('.')[0] || 'core'}.${version}.${kind}`;
}

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // ajv-formats is CommonJS: its default export arrives wrapped under NodeNext.
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
    a: Ajv,
    f: string[],
  ) => Ajv;
  addFormats(ajv, ['date-time', 'byte']);
  const range = (min: number, max: number) => ({
    type: 'number' as const,
    validate: (n: number) => Number.isInteger(n) && n >= min && n <= max,
  });
  ajv.addFormat('int32', range(-(2 ** 31), 2 ** 31 - 1));
  ajv.addFormat('int64', range(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
  ajv.addFormat('double', { type: 'number', validate: () => true });
  // Shapes the schema's oneOf already checks.
  for (const f of ['int-or-string', 'quantity']) ajv.addFormat(f, true);
  const openapi = JSON.parse(readFileSync(join(DIR, 'kubernetes-openapi-v3.json'), 'utf8')) as Schema;
  ajv.addSchema({ $id: 'k8s', ...(strict(openapi) as Schema) });
  return ajv;
}

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function validatorFor(apiVersion: string, kind: string): ValidateFunction {
  const key = `${apiVersion}/${kind}`;
  let v = compiled.get(key);
  if (v) return v;
  ajv ??= makeAjv();
  const crd = CRDS[key];
  if (crd) {
    const schema = strict(JSON.parse(readFileSync(join(DIR, crd), 'utf8'))) as Schema;
    const props = schema.properties as Schema;
    v = ajv.compile({ ...schema, properties: { ...props, metadata: { $ref: `k8s${REF}${OBJECT_META}` } } });
  } else {
    const name = definitionOf(apiVersion, kind);
    if (!ajv.getSchema(`k8s${REF}${name}`)) throw new Error(`no schema for ${key} (${name})`);
    v = ajv.compile({ $ref: `k8s${REF}${name}` });
  }
  compiled.set(key, v);
  return v;
}

const describe = (e: ErrorObject): string => {
  const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
  return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
};

/** Schema errors of one object ("/spec/replicas: must be integer"); [] when valid. */
export function validateManifest(obj: unknown): string[] {
  const o = obj as { apiVersion?: unknown; kind?: unknown };
  if (typeof o?.apiVersion !== 'string' || typeof o.kind !== 'string')
    return ['/: apiVersion and kind are required'];
  const v = validatorFor(o.apiVersion, o.kind);
  if (v(obj)) return [];
  // oneOf alternatives report each branch; keep the distinct lines, sorted by path.
  return [...new Set((v.errors ?? []).map(describe))].sort();
}
