// The Node heap flags the images ship (NODE_OPTIONS of the VM's relaykit.service; the Containerfile
// sets the same, test/deploy/heap-flags.test.ts checks). Benchmarks run the appliance with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function shippedNodeOptions(): string {
  const unit = readFileSync(
    join(import.meta.dirname, '../../appliance/image/vm/overlay/etc/systemd/system/relaykit.service'),
    'utf8',
  );
  return /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(unit)?.[1] ?? '';
}
