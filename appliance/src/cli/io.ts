// CLI room: where a command's output goes and where it reads, so commands run in-process in tests
// with captured streams, a fake terminal and a fixed clock.
import type { Readable, Writable } from 'node:stream';

/** A readable that may be a terminal (process.stdin is a tty.ReadStream when it is). */
export type CliInput = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Default: process.stdin. */
  readonly stdin?: CliInput;
  /** Clock for ages in tables. Default: Date.now. */
  readonly now?: () => number;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

export function println(w: Writable, text = ''): void {
  w.write(`${text}\n`);
}
