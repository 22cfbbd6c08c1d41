// infra/ room: the Pulumi side of the mock cloud — installing it as the mock monitor (and recording
// the resource options the mock interface does not pass on: protect, retainOnDelete,
// ignoreChanges, dependencies, URN), unwrapping secrets, waiting for registrations, resolving
// outputs and drawing the resource tree. Used by `npm run plan` and the tests; never by a real run.
import * as pulumi from '@pulumi/pulumi';
import type { MockCloud, RecordedResource } from './mock-cloud.ts';

/** Pulumi's marker for a secret value in the wire format. */
export const SECRET_SIG = '4dabf18193072939515e22adb298388d';
export const SECRET_SIG_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/** Strips Pulumi's secret wrappers from mock inputs, recursively. */
export function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_SIG_VALUE) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** True when the value (or something inside it) is wrapped as a secret. */
export function containsSecret(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_SIG_VALUE) return true;
    return Object.values(o).some(containsSecret);
  }
  return false;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
}
interface RegisterResponse {
  getUrn(): string;
}
type Callback = (err: unknown, res?: RegisterResponse) => void;

/**
 * setMocks with `cloud`, then wraps the mock monitor's registerResource so each recorded resource
 * also carries the options it was registered with and its URN.
 */
export async function installMockCloud(cloud: MockCloud, project: string, stack: string): Promise<void> {
  await pulumi.runtime.setMocks(cloud, project, stack, false);
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: Callback): Promise<void>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    cloud.pendingOptions = {
      protect: req.getProtect(),
      retainOnDelete: req.getRetainondelete(),
      ignoreChanges: req.getIgnorechangesList(),
      dependencies: req.getDependenciesList(),
    };
    return original(req, (err, res) => {
      const recorded = [...cloud.resources]
        .reverse()
        .find((r) => r.name === req.getName() && r.type === req.getType());
      if (recorded?.options !== undefined && res !== undefined) {
        (recorded.options as { urn: string }).urn = res.getUrn();
      }
      cb(err, res);
    });
  };
}

/** Waits for every outstanding registration to reach the mocks. */
export async function settle(runtime: typeof pulumi.runtime): Promise<void> {
  const wait = (runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (wait !== undefined) await wait();
}

/** Resolves an Output's value (works under mocks; never use in a real program). */
export function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => o.apply((v) => resolve(v)));
}

/** The resource tree by the naming convention (children are named `<parent>-<suffix>`). */
export function resourceTree(resources: readonly RecordedResource[]): string {
  const components = resources.filter((r) => !r.custom);
  const parentOf = (r: RecordedResource): RecordedResource | undefined =>
    r.type.startsWith('pulumi:providers:')
      ? undefined
      : components
          .filter((c) => c !== r && r.name.startsWith(`${c.name}-`))
          .sort((a, b) => b.name.length - a.name.length)[0];
  const children = new Map<RecordedResource | undefined, RecordedResource[]>();
  for (const r of resources) {
    const p = parentOf(r);
    children.set(p, [...(children.get(p) ?? []), r]);
  }
  const lines: string[] = [];
  const walk = (node: RecordedResource | undefined, depth: number) => {
    for (const c of children.get(node) ?? []) {
      lines.push(`${'  '.repeat(depth)}${c.type}  ${c.name}`);
      walk(c, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}
