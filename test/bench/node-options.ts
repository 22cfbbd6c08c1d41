// The Node heap flags and malloc setting the images ship (NODE_OPTIONS and MALLOC_ARENA_MAX of the
// VM's relaykit.service; the Containerfile sets the same, test/deploy/heap-flags.test.ts checks).
// Benchmarks run the appliance with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const unit = () =>
  readFileSync(
    join(import.meta.dirname, '../../appliance/image/vm/overlay/etc/systemd/system/relaykit.service'),
    'utf8',
  );

export function shippedNodeOptions(): string {
  return /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(unit())?.[1] ?? '';
}

/** The unit's malloc environment (MALLOC_ARENA_MAX), for a child process run as shipped. */
export function shippedMallocEnv(): Record<string, string> {
  const arenas = /^Environment=MALLOC_ARENA_MAX=(\d+)$/m.exec(unit())?.[1];
  return arenas === undefined ? {} : { MALLOC_ARENA_MAX: arenas };
}
