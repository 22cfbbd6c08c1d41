// Shared plumbing of the command-line tools: where output goes, so commands are testable in-process.
import type { Writable } from 'node:stream';

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

export function println(w: Writable, text = ''): void {
  w.write(`${text}\n`);
}
