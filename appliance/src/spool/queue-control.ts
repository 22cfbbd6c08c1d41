// Spool room: what operator actions (ops/queue-admin.ts) may ask of a running appliance's in-memory
// delivery schedule, so a retry or delete on a live queue keeps the schedule right. The delivery
// engine (delivery/worker.ts) implements it; ops depends on this interface, not on the engine.
import type { SpoolEntry } from './spool.ts';

export interface QueueControl {
  /** Schedules a newly queued (or requeued) entry. */
  add(entry: SpoolEntry): void;
  /** Makes every pending leg of `id` due now; false when no such queued entry is known. */
  retryNow(id: string): Promise<boolean>;
  /** Drops `id` from the schedule (it is being deleted); false when it was not scheduled. */
  forget(id: string): boolean;
}
