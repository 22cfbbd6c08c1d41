// A real pino logger (the appliance's, with its redaction) writing into memory, so tests can read the
// structured lines the appliance printed.
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../appliance/src/log.ts';

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
  /** The raw text so far (for "never contains" checks). */
  text(): string;
}

/** `forward` also gets every line (a remote syslog sender under test). */
export function captureLog(level = 'info', forward?: { write(line: string): void }): CapturedLog {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const logger = createLogger({ level, destination: sink, ...(forward ? { forward } : {}) });
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => text,
  };
}
