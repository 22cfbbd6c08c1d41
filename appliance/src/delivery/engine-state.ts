// Delivery room: the engine's in-memory state — one runtime per spooled entry (its legs, the tokens
// that make stale timetable tasks harmless, the lock that serialises its state writes) and one lane
// per route (its transport, concurrency and due tasks). Types only; worker.ts owns the values.
import type { Delivery, SpoolHeader } from '../spool/record.ts';
import type { SpoolEntry } from '../spool/spool.ts';
import type { Task } from './task-heap.ts';
import type { Transport } from './transport.ts';

export interface EntryRuntime {
  readonly header: SpoolHeader;
  readonly message: SpoolEntry['message'];
  deliveries: Delivery[];
  /** Bumped whenever a leg is rescheduled; tasks carrying an older token are stale. */
  readonly tokens: number[];
  readonly running: Set<number>;
  /** Serialises state writes of one entry (two legs may finish together). */
  lock: Promise<void>;
  deleted: boolean;
  /** Whether a state file may exist beside the entry (recovered entries, or saved since). */
  hasState: boolean;
}

export interface RouteLane {
  readonly transport: Transport | undefined;
  readonly limit: number;
  active: number;
  /** Due tasks by concurrency key ("" when the transport has none), served round-robin. */
  readonly ready: Map<string, Task[]>;
}
