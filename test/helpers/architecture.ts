// The appliance's layering rule as data and a checker over an import graph (docs/architecture.md).
// test/architecture.test.ts runs it over appliance/src and over small made-up graphs that must fail.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Files at the top of appliance/src that are shared leaves: they import no other relaykit module. */
export const LEAF_FILES = [
  'errors.ts',
  'fsio.ts',
  'log.ts',
  'metrics-sink.ts',
  'mime-text.ts',
  'pem.ts',
  'version.ts',
  'x509-der.ts',
] as const;

/**
 * Which rooms each room may import (besides itself). A room is a folder under appliance/src, `leaf`
 * (LEAF_FILES) or `root` (app.ts, main.ts: the composition root together with cli/). Listed from the
 * bottom layer up; an import not allowed here runs up a layer or sideways into a room it must not
 * see (routing is pure and sees no spool; the receiver sees no delivery).
 */
/** Every room below the composition root (cli/, app.ts, main.ts), which may import them all. */
const BELOW_COMPOSITION = [
  'leaf',
  'config',
  'spool',
  'net',
  'credentials',
  'auth',
  'routing',
  'receiver',
  'delivery',
  'ops',
] as const;

export const ROOM_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  leaf: [],
  config: ['leaf'],
  spool: ['leaf', 'config'],
  net: ['leaf', 'config'],
  credentials: ['leaf', 'config', 'net'],
  auth: ['leaf', 'config', 'net', 'credentials'],
  routing: ['leaf', 'config'],
  receiver: ['leaf', 'config', 'spool', 'routing'],
  delivery: ['leaf', 'config', 'spool', 'net', 'credentials', 'auth'],
  ops: ['leaf', 'config', 'spool', 'net', 'credentials', 'auth', 'routing', 'receiver', 'delivery'],
  cli: [...BELOW_COMPOSITION, 'root'],
  root: [...BELOW_COMPOSITION, 'cli'],
};

/** One folder per transport under delivery/: they import delivery's contract, never each other. */
export const TRANSPORT_FOLDERS = ['graph', 'acs', 'smtp', 'capture'] as const;

/** Source files (paths relative to the source root, "/"-separated) and what each imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export function roomOf(file: string): string {
  const slash = file.indexOf('/');
  if (slash >= 0) return file.slice(0, slash);
  if ((LEAF_FILES as readonly string[]).includes(file)) return 'leaf';
  if (file === 'app.ts' || file === 'main.ts') return 'root';
  return `(unknown top-level file ${file})`;
}

/** Every relative import of every .ts file under `srcRoot` that lands inside it. */
export function readImportGraph(srcRoot: string): ImportGraph {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
    });
  const rel = (p: string) => relative(srcRoot, p).split('\\').join('/');
  const graph = new Map<string, string[]>();
  for (const file of walk(srcRoot)) {
    // preProcessFile sees static, type-only, re-export and dynamic imports alike.
    const specs = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    const targets = specs
      .map((s) => s.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => rel(resolve(dirname(file), s)))
      .filter((t) => !t.startsWith('..'));
    graph.set(rel(file), [...new Set(targets)]);
  }
  return graph;
}

function transportOf(file: string): string | undefined {
  const parts = file.split('/');
  return parts[0] === 'delivery' && parts.length > 2 ? parts[1] : undefined;
}

/** Each problem as one line naming the importing file, the imported file and the rule. */
export function layeringProblems(graph: ImportGraph): string[] {
  const problems: string[] = [];
  // delivery/ root modules that import a transport (worker, registry, classify): off limits to transports.
  const orchestrators = new Set(
    [...graph]
      .filter(
        ([f, deps]) => f.startsWith('delivery/') && transportOf(f) === undefined && deps.some(transportOf),
      )
      .map(([f]) => f),
  );
  for (const [file, deps] of graph) {
    const from = roomOf(file);
    const allowed = ROOM_IMPORTS[from];
    if (allowed === undefined) {
      problems.push(`${file}: room "${from}" is not in the layer table (docs/architecture.md)`);
      continue;
    }
    for (const dep of deps) {
      const to = roomOf(dep);
      if (to !== from && !allowed.includes(to)) {
        problems.push(`${file} imports ${dep}: ${from} may not import ${to}`);
      }
      if (from === 'leaf' && to === 'leaf') {
        problems.push(`${file} imports ${dep}: shared leaves import no relaykit module`);
      }
      const t = transportOf(file);
      if (t !== undefined) {
        const u = transportOf(dep);
        if (u !== undefined && u !== t)
          problems.push(`${file} imports ${dep}: transport ${t} may not import ${u}`);
        if (orchestrators.has(dep)) {
          problems.push(`${file} imports ${dep}: a transport may not import what imports the transports`);
        }
      }
    }
  }
  return [...problems, ...cycles(graph).map((c) => `import cycle among: ${c.join(', ')}`)];
}

/** Import cycles (strongly connected components of more than one file, or a self-import). */
export function cycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative enough for a few hundred files.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.reverse());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return found;
}
