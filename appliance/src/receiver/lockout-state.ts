// Receiving room (shared with the admin listener): brute-force lockouts kept across a restart. Every
// AuthFailureTracker made here — one per SMTP listener, one for the admin login — starts from the
// state file and saves it after each failure, so restarting the relay does not hand an attacker a
// fresh set of guesses. The file lives in the spool directory (`<spool>/state/lockout.json`, 0600):
// addresses and times only, never user names or passwords. A corrupt file is ignored with one warning.
import { join } from 'node:path';
import { z } from 'zod';
import { JsonStateFile } from '../fsio.ts';
import type { Logger } from '../log.ts';
import { type AuthFailureOptions, type AuthFailureSnapshot, AuthFailureTracker } from './abuse.ts';

const snapshotSchema = z.record(
  z.string(),
  z.object({ times: z.array(z.number()).max(1000), blockedUntil: z.number() }),
);
const fileSchema = z.object({ version: z.literal(1), trackers: z.record(z.string(), snapshotSchema) });

interface LockoutFile {
  readonly version: 1;
  readonly trackers: Readonly<Record<string, AuthFailureSnapshot>>;
}

export class LockoutState {
  private readonly file: JsonStateFile<LockoutFile>;
  private readonly saved: Readonly<Record<string, AuthFailureSnapshot>>;
  private readonly trackers = new Map<string, AuthFailureTracker>();
  private readonly now: () => number;

  private constructor(
    file: JsonStateFile<LockoutFile>,
    saved: Record<string, AuthFailureSnapshot>,
    now: () => number,
  ) {
    this.file = file;
    this.saved = saved;
    this.now = now;
  }

  static async open(spoolRoot: string, logger: Logger, now: () => number = Date.now): Promise<LockoutState> {
    const path = join(spoolRoot, 'state', 'lockout.json');
    const file = new JsonStateFile<LockoutFile>(path, (reason) =>
      logger.warn(
        { event: 'state-file', path, reason },
        'lockout state file ignored or not written; lockouts start empty',
      ),
    );
    const saved = await file.load((raw) => fileSchema.parse(raw));
    return new LockoutState(file, saved?.trackers ?? {}, now);
  }

  /** The tracker called `name` (e.g. "smtp:office", "admin"), restored from the file. */
  tracker(name: string, opts: Omit<AuthFailureOptions, 'onChange'>): AuthFailureTracker {
    const t = new AuthFailureTracker({ ...opts, onChange: () => this.save() }, this.now);
    const saved = this.saved[name];
    if (saved) t.restore(saved);
    this.trackers.set(name, t);
    return t;
  }

  /** Every save so far is on disk (tests, shutdown). */
  flush(): Promise<void> {
    return this.file.flush();
  }

  private save(): void {
    this.file.save(() => ({
      version: 1 as const,
      trackers: Object.fromEntries([...this.trackers].map(([name, t]) => [name, t.snapshot()])),
    }));
  }
}
