// The container and the VM run the relay with the same V8 heap flags and malloc arena limit (issue
// 15: RSS on a small edge host), and Node accepts the flags from NODE_OPTIONS: a flag Node refuses
// there stops the relay at start. V8 flags Node refuses in NODE_OPTIONS sit on the node command line
// of the unit's ExecStart and the image's ENTRYPOINT and HEALTHCHECK, and the compile cache is filled
// with them (Node keys the cache by V8 flags: other flags would find none).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const unit = read('appliance/image/vm/overlay/etc/systemd/system/relaykit.service');
const containerfile = read('appliance/image/Containerfile');

describe('V8 heap flags of the shipped appliance', () => {
  const fromUnit = /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(unit)?.[1];
  const fromImage = /^\s*NODE_OPTIONS="([^"]*)"(?: \\)?$/m.exec(containerfile)?.[1];

  it('are the same in the systemd unit and the Containerfile', () => {
    expect(fromUnit).toBe('--max-semi-space-size=1 --max-old-space-size=192');
    expect(fromImage).toBe(fromUnit);
  });

  it('come with two glibc malloc arenas in both (MALLOC_ARENA_MAX)', () => {
    expect(/^Environment=MALLOC_ARENA_MAX=(\d+)$/m.exec(unit)?.[1]).toBe('2');
    expect(/^\s*MALLOC_ARENA_MAX=(\d+)(?: \\)?$/m.exec(containerfile)?.[1]).toBe('2');
  });

  it('come with a fixed 64 KB malloc trim threshold in both (MALLOC_TRIM_THRESHOLD_)', () => {
    expect(/^Environment=MALLOC_TRIM_THRESHOLD_=(\d+)$/m.exec(unit)?.[1]).toBe('65536');
    expect(/^\s*MALLOC_TRIM_THRESHOLD_=(\d+)$/m.exec(containerfile)?.[1]).toBe('65536');
  });

  // --liftoff-only: undici's WebAssembly HTTP parser is never tiered up to TurboFan (a ~26 MB malloc
  // spike under a burst of mail); --memory-saver-mode: V8's heap growth tuned for footprint;
  // --max-opt=2: no TurboFan (its compile zones and code pages); --invocation-count-for-maglev=4000:
  // Maglev's compile jobs not all piled onto the first burst of mail after a start.
  const commandLine =
    /^ExecStart=\/usr\/local\/bin\/node (.*) \/opt\/relaykit\/relaykit-appliance\.mjs run /m.exec(unit)?.[1];
  const execForm = (line: RegExp) => {
    const m = line.exec(containerfile);
    return m ? (JSON.parse(m[1] as string) as string[]) : undefined;
  };

  it('carry the V8 flags Node refuses in NODE_OPTIONS on the command line of the unit and the image', () => {
    expect(commandLine).toBe(
      '--liftoff-only --memory-saver-mode --max-opt=2 --invocation-count-for-maglev=4000',
    );
    const flags = (commandLine ?? '').split(' ');
    const node = '/usr/local/bin/node';
    const bundle = '/opt/relaykit/relaykit-appliance.mjs';
    expect(execForm(/^ENTRYPOINT (\[.*\])$/m)).toEqual([node, ...flags, bundle]);
    expect(execForm(/^\s*CMD (\[.*"health"\])$/m)).toEqual([node, ...flags, bundle, 'health']);
    // The compile cache: one fill with the relay's flags, one without (the relaykit-appliance link).
    const fills = [...containerfile.matchAll(/^RUN (\[.*relaykit-appliance\.mjs.*\])$/gm)].map(
      (m) => JSON.parse(m[1] as string) as string[],
    );
    expect(fills.map((f) => f.slice(1, f.indexOf('--input-type=module')))).toEqual([flags, []]);
    expect(read('appliance/image/build.sh')).toContain(
      "sed -n 's|^ExecStart=/usr/local/bin/node \\(.*\\) /opt/relaykit/relaykit-appliance.mjs .*|\\1|p'",
    );
  });

  it('are taken by Node on the command line, and refused in NODE_OPTIONS', () => {
    const flags = (commandLine ?? '').split(' ');
    const out = execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write("ok")'], {
      encoding: 'utf8',
    });
    expect(out).toBe('ok');
    for (const flag of flags) {
      const r = spawnSync(process.execPath, ['-e', '0'], {
        env: { ...process.env, NODE_OPTIONS: flag },
        encoding: 'utf8',
      });
      // Node names a flag with a value by its name and '=' ("--max-opt= is not allowed").
      expect(r.stderr).toContain(`${flag.replace(/=.*/, '=')} is not allowed in NODE_OPTIONS`);
    }
  });

  it('are taken by Node from NODE_OPTIONS and cap the heap', () => {
    const out = execFileSync(
      process.execPath,
      ['-e', 'process.stdout.write(String(require("node:v8").getHeapStatistics().heap_size_limit))'],
      { env: { ...process.env, NODE_OPTIONS: fromUnit ?? '' }, encoding: 'utf8' },
    );
    const mb = Number(out) / 1024 / 1024;
    // 192 MB old space plus the young generation (a few 2 MB semi-spaces); Node's default on a
    // machine with 2+ GB is over 1 GB.
    expect(mb).toBeGreaterThanOrEqual(192);
    expect(mb).toBeLessThan(210);
  });
});
