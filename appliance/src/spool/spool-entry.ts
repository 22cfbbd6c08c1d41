// Spool room: the shapes every spool module shares — an entry as read back from queue/ or dead/, and
// the test seam that makes writes fail as a full disk would.
import type { Delivery, MessageSource, SpoolHeader } from './record.ts';

export type SpoolFolder = 'queue' | 'dead';

export interface SpoolEntry {
  readonly header: SpoolHeader;
  /** Current state of each leg (the header's plan, updated by the state file). */
  readonly deliveries: readonly Delivery[];
  readonly message: MessageSource;
  readonly folder: SpoolFolder;
}

/**
 * Test seams: make writes fail as a full disk would; watch or hold a directory fsync (`sync` is the
 * real one: call it, and resolve when the caller may go on).
 */
export interface SpoolFaults {
  beforeWrite?(): void;
  syncDir?(path: string, sync: () => Promise<void>): Promise<void>;
}
