// The VM's first-boot command (relaykit-firstboot.service runs the bundled firstboot.mjs): exit 0
// when the relay may start, 1 with one line on the console when there is nothing safe to run.
import { BundleError } from './bundle-file.ts';
import { firstboot, markDone } from './firstboot.ts';
import { haWantedOnDisk } from './ha-gate.ts';

const CONFIG = '/etc/relaykit/config.yaml';

try {
  process.exitCode = firstboot();
  // relaykit.service starts beside this step and reads its config only once this file exists
  // (`run --wait-for`); /run is empty at every boot.
  if (process.exitCode === 0) markDone();
} catch (err) {
  console.error(`relaykit-firstboot: ${err instanceof BundleError ? err.message : (err as Error).stack}`);
  process.exitCode = 1;
}
// The edge pair's keepalived, at every boot from the installed config, loaded only when wanted; a
// failure there is reported but never keeps the relay from starting.
if (process.exitCode === 0 && haWantedOnDisk(CONFIG)) {
  try {
    (await import('./ha-setup.ts')).configureHa(CONFIG);
  } catch (err) {
    console.error(`relaykit-firstboot: ha: keepalived not configured: ${(err as Error).message}`);
  }
}
