#!/usr/local/bin/node
// The command both images run: `relaykit-appliance` on PATH and the container's ENTRYPOINT. It is
// the appliance CLI (src/main.ts), bundled into one file by bundle.ts; in a container it first takes
// the appliance bundle named by RELAYKIT_BUNDLE, if one is mounted (container-bundle.ts).
import { main } from '../src/main.ts';
import { BundleError } from './bundle-file.ts';
import { containerBundleConfig } from './container-bundle.ts';

try {
  const config = containerBundleConfig(process.env);
  if (config !== undefined) process.env.RELAYKIT_CONFIG = config;
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`relaykit-appliance: ${err instanceof BundleError ? err.message : (err as Error).stack}`);
  process.exitCode = 1;
}
