// Bundles the appliance for the images (container and VM): the CLI and the VM's first-boot command,
// each one ES module with its production dependencies inlined (esbuild), so the images carry no
// node_modules and start without type-stripping hundreds of files. Writes to the output directory:
//   relaykit-appliance.mjs   the CLI (cli-entry.ts → src/main.ts)
//   firstboot.mjs            the VM's first boot (firstboot-entry.ts)
//   chunk-*.mjs              code both share (the bundle contract, yaml)
//   THIRD-PARTY-NOTICES.txt  the licence of every package inlined
// Usage: node appliance/image/bundle.ts <out-dir>
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';

const here = dirname(new URL(import.meta.url).pathname);
const repo = resolve(here, '../..');

/** Package directory of every node_modules input, e.g. node_modules/@azure/identity. */
export function packagesOf(metafile: Metafile): string[] {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) dirs.add(m[1]);
  }
  return [...dirs].sort();
}

/** The appliance's own modules (not main.ts's run-me guard) that use import.meta.url/dirname/filename. */
export function moduleLocators(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).filter(
    (f) =>
      f.startsWith('appliance/') &&
      f !== 'appliance/src/main.ts' &&
      /import\.meta\.(url|dirname|filename)/.test(readFileSync(join(repo, f), 'utf8')),
  );
}

function notices(packageDirs: string[]): string {
  const parts: string[] = [];
  for (const rel of packageDirs) {
    const dir = join(repo, rel);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license ?? 'unknown'}`;
    parts.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`);
  }
  return `Packages bundled into relaykit-appliance.mjs and firstboot.mjs:\n\n${parts.join(`\n${'-'.repeat(72)}\n\n`)}`;
}

/**
 * `import … from 'node:http'` in an ES module makes Node 24 build the module's ES namespace from
 * every export, and reading http's lazy WebSocket/CloseEvent/MessageEvent getters loads Node's own
 * undici (~10 MB of RSS that the relay never uses; it has its own undici). Such imports are served
 * as CommonJS `require('node:http')` instead, whose properties are read only when used.
 */
const lazyHttpBuiltin: Plugin = {
  name: 'lazy-http-builtin',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: 'node:http', namespace: 'relaykit-cjs-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'relaykit-cjs-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * zod re-exports its ~45 translations as the `z.locales` / `core.locales` namespaces, which the
 * bundler cannot drop: 300 KB of source, ~1.5 MB of idle RSS (test/bench/load.ts). The relay never
 * reads them; the English messages it shows come from `zod/v4/classic/schemas.js`, which imports
 * `locales/en.js` itself and is untouched. The namespaces are served empty.
 */
const zodWithoutTranslations: Plugin = {
  name: 'zod-without-translations',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /node_modules\/zod\/v4\/(classic|core)$/.test(args.resolveDir)
        ? { path: 'zod-locales', namespace: 'relaykit-zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'relaykit-zod-locales' }, () => ({
      contents: 'export {};',
      loader: 'js',
    }));
  },
};

export async function bundle(outDir: string): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: repo,
    entryPoints: {
      'relaykit-appliance': 'appliance/image/cli-entry.ts',
      firstboot: 'appliance/image/firstboot-entry.ts',
    },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // Whitespace and syntax only: stack traces keep readable names.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [lazyHttpBuiltin, zodWithoutTranslations],
    // Modules inside one bundle have no file of their own: a "run me when I am the main module"
    // guard (import.meta.url against argv[1], import.meta.main) must not fire for an imported
    // module; the entries run their command unconditionally instead.
    define: { 'import.meta.main': 'false', 'import.meta.url': '"file:///relaykit/bundled-module"' },
    // CommonJS dependencies call require() for Node built-ins, which ES modules lack.
    banner: {
      js: "import { createRequire as __relaykitCreateRequire } from 'node:module'; const require = __relaykitCreateRequire(import.meta.url);",
    },
  });
  const located = moduleLocators(result.metafile);
  if (located.length > 0) {
    throw new Error(
      `these modules locate files through import.meta, which has no meaning inside the bundle (read the file at build time or import it): ${located.join(', ')}`,
    );
  }
  writeFileSync(join(outDir, 'THIRD-PARTY-NOTICES.txt'), notices(packagesOf(result.metafile)));
  // Executable: /usr/local/bin/relaykit-appliance links here (cli-entry.ts carries the #! line).
  chmodSync(join(outDir, 'relaykit-appliance.mjs'), 0o755);
  return result.metafile;
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node appliance/image/bundle.ts <out-dir>');
    process.exit(2);
  }
  const metafile = await bundle(resolve(out));
  let bytes = 0;
  for (const [file, o] of Object.entries(metafile.outputs)) {
    bytes += o.bytes;
    if (!existsSync(file)) throw new Error(`esbuild reported ${file} but did not write it`);
  }
  console.log(
    `bundled ${Object.keys(metafile.inputs).length} modules from ${packagesOf(metafile).length} packages: ${(bytes / 1e6).toFixed(1)} MB in ${relative(process.cwd(), resolve(out))}`,
  );
}
