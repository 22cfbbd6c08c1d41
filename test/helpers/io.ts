// Captures what an in-process CLI command writes.
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../appliance/src/cli/io.ts';

export function captureIo(): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => {
    o += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    e += d.toString();
  });
  return { stdout, stderr, out: () => o, err: () => e };
}
