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
}

export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'relaykit-appliance' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that discards everything, for tests and for `check`. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
