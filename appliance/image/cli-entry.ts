#!/usr/local/bin/node
// The command both images run: `relaykit-appliance` on PATH and the container's ENTRYPOINT. It is
// the appliance CLI (src/main.ts), bundled into one file by bundle.ts; in a container it first takes
// the appliance bundle named by RELAYKIT_BUNDLE, if one is mounted (container-bundle.ts).
import { exitNow, main } from '../src/main.ts';
import { BundleError } from './bundle-file.ts';
import { containerBundleConfig } from './container-bundle.ts';

let code: number;
try {
  const config = containerBundleConfig(process.env);
  if (config !== undefined) process.env.RELAYKIT_CONFIG = config;
  code = await main(process.argv.slice(2));
} catch (err) {
  console.error(`relaykit-appliance: ${err instanceof BundleError ? err.message : (err as Error).stack}`);
  code = 1;
}
// Not a natural exit: a second stop signal during Node's teardown would kill the drained relay by
// signal (main.ts exitNow says why).
exitNow(code);
