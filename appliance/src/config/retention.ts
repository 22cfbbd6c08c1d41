// Retention of the spool's trace and dead-letter folders (spool.retention): how old and how large
// each may grow before the oldest files are deleted. Defaults live here, with units; the runner is
// spool/retention.ts. The queue itself is never pruned: undelivered mail leaves it only by delivery
// or by spool.maxAge into the dead-letter folder.
import { z } from 'zod';
import { duration, size } from './fields.ts';

const DAY = 86_400_000;
const MIB = 1024 * 1024;

function folderLimits(maxAge: number, maxSize: number) {
  return z
    .strictObject({
      /** Files older than this are deleted (for dead letters: time since they were dead-lettered). */
      maxAge: duration.default(maxAge),
      /** When the folder holds more than this, the oldest files are deleted until it fits. */
      maxSize: size.default(maxSize),
    })
    .prefault({});
}

export const retentionSchema = z
  .strictObject({
    /** How often the folders are pruned; also once at start. */
    interval: duration.default(3_600_000),
    /** trace/<day>.jsonl, the per-message event log. Today's file is never deleted. */
    trace: folderLimits(30 * DAY, 256 * MIB),
    /** dead/: messages that could not be delivered, kept for `dead requeue` and inspection. */
    dead: folderLimits(30 * DAY, 1024 * MIB),
  })
  .prefault({});

export type RetentionConfig = z.output<typeof retentionSchema>;
export type RetentionLimits = RetentionConfig['trace'];
