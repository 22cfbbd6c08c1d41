// The appliance never carries the MSP's tooling: nothing under appliance/ imports fleet/ or any
// @pulumi/* package (the image ships appliance/ only, without the Pulumi SDK).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

/** Every module specifier a file imports (static, dynamic, export-from, require). */
function specifiers(source: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  return [...source.matchAll(re)].map((m) => m[1] as string);
}

function forbidden(file: string, spec: string): string | undefined {
  if (spec.startsWith('@pulumi/'))
    return `${file} imports ${spec}: the appliance must not carry the Pulumi SDK`;
  if (/(^|\/)fleet\//.test(spec)) return `${file} imports ${spec}: the appliance must not import fleet/`;
  return undefined;
}

describe('appliance/ ↛ fleet/, @pulumi/*', () => {
  it('finds a forbidden import when one is there', () => {
    expect(
      specifiers("import x from '../../fleet/src/engine.ts';\nconst p = await import('@pulumi/pulumi');"),
    ).toEqual(['../../fleet/src/engine.ts', '@pulumi/pulumi']);
    expect(forbidden('a.ts', '@pulumi/pulumi/automation')).toBe(
      'a.ts imports @pulumi/pulumi/automation: the appliance must not carry the Pulumi SDK',
    );
    expect(forbidden('a.ts', '../../fleet/src/engine.ts')).toBe(
      'a.ts imports ../../fleet/src/engine.ts: the appliance must not import fleet/',
    );
  });

  it('no file under appliance/ imports them', () => {
    const problems: string[] = [];
    const files = readdirSync(join(ROOT, 'appliance'), { recursive: true })
      .map(String)
      .filter((f) => /\.(ts|js|mjs|cjs)$/.test(f) && !f.includes('node_modules'));
    expect(files.length).toBeGreaterThan(50);
    for (const f of files) {
      const path = join(ROOT, 'appliance', f);
      for (const spec of specifiers(readFileSync(path, 'utf8'))) {
        const p = forbidden(relative(ROOT, path), spec);
        if (p !== undefined) problems.push(p);
      }
    }
    expect(problems).toEqual([]);
  });
});
