// The container and the VM run the relay with the same V8 heap flags and malloc arena limit (issue
// 15: RSS on a small edge host), and Node accepts the flags from NODE_OPTIONS: a flag Node refuses
// there stops the relay at start.
import { execFileSync } from 'node:child_process';
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
