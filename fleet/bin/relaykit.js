#!/usr/bin/env node
// Command-line entry of `relaykit`, the MSP command (fleet/src/main.ts); the loader is the appliance's.
import { launch } from '../../appliance/bin/launch.js';

await launch(new URL('../src/main.ts', import.meta.url));
