// The VM's first-boot command (relaykit-firstboot.service runs the bundled firstboot.mjs): exit 0
// when the relay may start, 1 with one line on the console when there is nothing safe to run.
import { BundleError } from './bundle-file.ts';
import { firstboot } from './firstboot.ts';

try {
  process.exitCode = firstboot();
} catch (err) {
  console.error(`relaykit-firstboot: ${err instanceof BundleError ? err.message : (err as Error).stack}`);
  process.exitCode = 1;
}
