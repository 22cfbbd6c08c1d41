// The retention planner: which files of a folder to delete so that none is older than maxAge and the
// folder fits in maxSize, deleting the oldest first. Pure (no I/O, no clock): the runner
// (retention.ts) lists the folder, calls this and deletes what it says.

export interface RetentionItem {
  /** What the runner deletes: a trace file name, or a dead letter's id (its .msg and .state). */
  readonly name: string;
  readonly bytes: number;
  /** When it was last written: the trace day's last event, or when the message was dead-lettered. */
  readonly mtimeMs: number;
  /** Never deleted (today's trace file, still being written). */
  readonly pinned?: boolean;
}

export interface RetentionLimits {
  /** Milliseconds. */
  readonly maxAge: number;
  /** Bytes. */
  readonly maxSize: number;
}

export interface RetentionPlan {
  readonly remove: readonly { readonly item: RetentionItem; readonly reason: 'age' | 'size' }[];
  /** Bytes the folder holds once the plan is carried out. */
  readonly keptBytes: number;
}

export function planRetention(
  items: readonly RetentionItem[],
  limits: RetentionLimits,
  now: number,
): RetentionPlan {
  // Oldest first; the name breaks ties so the plan does not depend on listing order.
  const sorted = [...items].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
  const remove: { item: RetentionItem; reason: 'age' | 'size' }[] = [];
  const kept: RetentionItem[] = [];
  for (const item of sorted) {
    if (!item.pinned && now - item.mtimeMs > limits.maxAge) remove.push({ item, reason: 'age' });
    else kept.push(item);
  }
  let keptBytes = kept.reduce((sum, i) => sum + i.bytes, 0);
  for (const item of kept) {
    if (keptBytes <= limits.maxSize) break;
    if (item.pinned) continue;
    remove.push({ item, reason: 'size' });
    keptBytes -= item.bytes;
  }
  return { remove, keptBytes };
}
