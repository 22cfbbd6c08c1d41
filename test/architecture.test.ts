// The layering rule of docs/architecture.md, checked over the real import graph of appliance/src:
// no import runs up a layer (or into a room it must not see), transports never import each other or
// what imports them, no cycles, and every folder is named in the document.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ImportGraph,
  LEAF_FILES,
  layeringProblems,
  ROOM_IMPORTS,
  readImportGraph,
  TRANSPORT_FOLDERS,
} from './helpers/architecture.ts';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'appliance/src');
const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe('the checker', () => {
  it('accepts imports that run down the layers', () => {
    expect(
      layeringProblems(
        graph({
          'errors.ts': [],
          'config/schema.ts': ['errors.ts'],
          'routing/router.ts': ['config/schema.ts'],
          'receiver/server.ts': ['routing/router.ts', 'config/schema.ts'],
          'delivery/transport.ts': [],
          'delivery/graph/graph-transport.ts': ['delivery/transport.ts', 'config/schema.ts'],
          'delivery/registry.ts': ['delivery/graph/graph-transport.ts', 'delivery/transport.ts'],
        }),
      ),
    ).toEqual([]);
  });

  it('names an import running up a layer', () => {
    expect(
      layeringProblems(graph({ 'config/rules.ts': ['routing/patterns.ts'], 'routing/patterns.ts': [] })),
    ).toEqual(['config/rules.ts imports routing/patterns.ts: config may not import routing']);
  });

  it('names a receiver reaching into delivery and a leaf importing another leaf', () => {
    expect(
      layeringProblems(
        graph({
          'receiver/server.ts': ['delivery/worker.ts'],
          'delivery/worker.ts': [],
          'log.ts': ['errors.ts'],
          'errors.ts': [],
        }),
      ),
    ).toEqual([
      'receiver/server.ts imports delivery/worker.ts: receiver may not import delivery',
      'log.ts imports errors.ts: shared leaves import no relaykit module',
    ]);
  });

  it('names a transport importing another transport or the table that imports it, and the cycle', () => {
    expect(
      layeringProblems(
        graph({
          'delivery/classify.ts': ['delivery/acs/acs-errors.ts'],
          'delivery/acs/acs-errors.ts': ['delivery/classify.ts'],
          'delivery/smtp/smtp-transport.ts': ['delivery/acs/acs-errors.ts'],
        }),
      ),
    ).toEqual([
      'delivery/acs/acs-errors.ts imports delivery/classify.ts: a transport may not import what imports the transports',
      'delivery/smtp/smtp-transport.ts imports delivery/acs/acs-errors.ts: transport smtp may not import acs',
      'import cycle among: delivery/acs/acs-errors.ts, delivery/classify.ts',
    ]);
  });

  it('names a room missing from the layer table', () => {
    expect(layeringProblems(graph({ 'plugins/x.ts': [] }))).toEqual([
      'plugins/x.ts: room "plugins" is not in the layer table (docs/architecture.md)',
    ]);
  });
});

describe('appliance/src', () => {
  const real = readImportGraph(SRC);

  it('reads the real import graph (sanity: known edges are seen)', () => {
    expect(real.get('delivery/registry.ts')).toContain('delivery/graph/graph-transport.ts');
    expect(real.get('receiver/server.ts')).toContain('receiver/data-path.ts');
  });

  it('keeps the layering rule', () => {
    expect(layeringProblems(real)).toEqual([]);
  });

  it('has exactly the rooms of the layer table, each named in docs/architecture.md', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
    const rooms = Object.keys(ROOM_IMPORTS).filter((r) => r !== 'leaf' && r !== 'root');
    expect(folders.sort()).toEqual(rooms.sort());
    for (const f of folders) expect(doc, `docs/architecture.md names ${f}/`).toContain(`${f}/`);
    for (const f of LEAF_FILES) expect(doc, `docs/architecture.md names ${f}`).toContain(f);
    const transports = readdirSync(join(SRC, 'delivery')).filter((n) =>
      statSync(join(SRC, 'delivery', n)).isDirectory(),
    );
    expect(transports.sort()).toEqual([...TRANSPORT_FOLDERS].sort());
    for (const t of transports) expect(doc).toContain(`${t}/`);
  });
});
