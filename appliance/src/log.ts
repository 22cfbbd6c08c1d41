// Structured JSON logs (pino). Redaction is configured here once so no room can log an AUTH
// password, a bearer token, a client secret or a Key Vault value by accident.
import { pino } from 'pino';

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'password',
  '*.password',
  'pass',
  '*.pass',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  'connectionString',
  '*.connectionString',
  'accessKey',
  '*.accessKey',
  'privateKey',
  '*.privateKey',
  'value',
  'secretValue',
  '*.secretValue',
];

export interface LogOptions {
  level?: string;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
  /** Also gets every line, after redaction (the remote syslog sender); must never block or throw. */
  forward?: { write(line: string): void };
}

/** The destination and the forward, both fed each line; flushing flushes the destination. */
function tee(dest: pino.DestinationStream, forward: { write(line: string): void }): pino.DestinationStream {
  const d = dest as pino.DestinationStream & {
    flush?: (cb: (err?: Error) => void) => void;
    flushSync?: () => void;
  };
  return {
    write(line: string) {
      d.write(line);
      forward.write(line);
    },
    ...(d.flush ? { flush: (cb: (err?: Error) => void) => d.flush?.(cb) } : {}),
    ...(d.flushSync ? { flushSync: () => d.flushSync?.() } : {}),
  } as pino.DestinationStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const dest = options.destination ?? pino.destination({ fd: 1, sync: false });
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'relaykit-appliance' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.forward === undefined ? dest : tee(dest, options.forward),
  );
}

/** A logger that discards everything, for tests and for `check`. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
