#!/usr/bin/env node
// Command-line entry of `relaykit-appliance`, the edge relay (appliance/src/main.ts).
import { launch } from './launch.js';

await launch(new URL('../src/main.ts', import.meta.url));
