// The Node heap flags and malloc settings the images ship (NODE_OPTIONS, the V8 flags of ExecStart
// and MALLOC_* of the VM's relaykit.service; the Containerfile sets the same,
// test/deploy/heap-flags.test.ts checks). Benchmarks run the appliance with them.
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

/** V8 flags on the unit's node command line (Node refuses them in NODE_OPTIONS). */
export function shippedCommandLineFlags(): string {
  return (
    /^ExecStart=\/usr\/local\/bin\/node (.*) \/opt\/relaykit\/relaykit-appliance\.mjs /m.exec(unit())?.[1] ??
    ''
  );
}

/** Everything the relay's node runs with: NODE_OPTIONS and the command-line V8 flags. */
export function shippedNodeFlags(): string {
  return `${shippedNodeOptions()} ${shippedCommandLineFlags()}`.trim();
}

/** The V8 flags a bench runs the appliance with: BENCH_NODE_FLAGS when set (' ' for Node's defaults), else the shipped ones. */
export function benchNodeFlags(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? shippedNodeFlags()).split(' ').filter(Boolean);
}

/** The unit's malloc environment (MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_), for a child run as shipped. */
export function shippedMallocEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of unit().matchAll(/^Environment=(MALLOC_[A-Z_]+)=(\d+)$/gm))
    env[m[1] as string] = m[2] as string;
  return env;
}
