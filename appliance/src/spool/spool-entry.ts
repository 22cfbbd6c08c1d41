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

/** Test seam: lets tests make writes fail as a full disk would. */
export interface SpoolFaults {
  beforeWrite?(): void;
}
