// Spool retention runner and disk use. Lists trace/ and dead/, asks the pure planner
// (retention-plan.ts) what to delete, deletes it and says so in the trace; and measures the spool's
// file system and folders for /status and /metrics. Touches only trace/ and dead/ (never queue/:
// undelivered mail leaves it only by delivery or by spool.maxAge). Limits: config/retention.ts.
import { readdir, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetentionConfig } from '../config/retention.ts';
import type { Logger } from '../log.ts';
import { isEntryId } from './entry-name.ts';
import { planRetention, type RetentionItem } from './retention-plan.ts';
import type { Spool } from './spool.ts';

export interface FolderPruned {
  readonly removed: number;
  readonly bytes: number;
  readonly keptBytes: number;
}

export interface RetentionReport {
  readonly trace: FolderPruned;
  readonly dead: FolderPruned;
}

async function sizeAndMtime(path: string): Promise<{ bytes: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(path);
    return { bytes: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined; // deleted or moved meanwhile
  }
}

/** trace/<day>.jsonl files; the newest is pinned (the spool may still be appending to it). */
export async function listTrace(root: string): Promise<RetentionItem[]> {
  const names = (await readdir(join(root, 'trace'))).filter((n) => n.endsWith('.jsonl')).sort();
  const newest = names.at(-1);
  const items: RetentionItem[] = [];
  for (const name of names) {
    const s = await sizeAndMtime(join(root, 'trace', name));
    if (s) items.push({ name, ...s, pinned: name === newest });
  }
  return items;
}

/** One item per dead letter: its .msg and .state together, dated by the later of the two. */
export async function listDead(root: string): Promise<RetentionItem[]> {
  const byId = new Map<string, { bytes: number; mtimeMs: number }>();
  for (const name of await readdir(join(root, 'dead'))) {
    const m = /^(.+)\.(msg|state)$/.exec(name);
    if (!m || !isEntryId(m[1] as string)) continue;
    const s = await sizeAndMtime(join(root, 'dead', name));
    if (!s) continue;
    const cur = byId.get(m[1] as string);
    byId.set(m[1] as string, {
      bytes: (cur?.bytes ?? 0) + s.bytes,
      mtimeMs: Math.max(cur?.mtimeMs ?? 0, s.mtimeMs),
    });
  }
  return [...byId].map(([name, s]) => ({ name, ...s }));
}

/** Deletes what the limits say must go, oldest first. Each deleted dead letter is traced. */
export async function applyRetention(
  spool: Spool,
  retention: RetentionConfig,
  now: number,
  logger: Logger,
): Promise<RetentionReport> {
  const trace = planRetention(await listTrace(spool.root), retention.trace, now);
  let traceBytes = 0;
  for (const { item } of trace.remove) {
    await unlink(join(spool.root, 'trace', item.name)).then(
      () => {
        traceBytes += item.bytes;
      },
      () => {},
    );
  }
  const dead = planRetention(await listDead(spool.root), retention.dead, now);
  let deadRemoved = 0;
  let deadBytes = 0;
  for (const { item, reason } of dead.remove) {
    try {
      await spool.remove('dead', item.name);
    } catch {
      continue; // requeued or deleted by the operator meanwhile
    }
    deadRemoved += 1;
    deadBytes += item.bytes;
    spool.trace({ id: item.name, event: 'deleted', by: 'retention', folder: 'dead', reason });
  }
  const report: RetentionReport = {
    trace: { removed: trace.remove.length, bytes: traceBytes, keptBytes: trace.keptBytes },
    dead: { removed: deadRemoved, bytes: deadBytes, keptBytes: dead.keptBytes },
  };
  if (report.trace.removed > 0 || report.dead.removed > 0) {
    logger.info({ retention: report }, 'spool: pruned trace and dead-letter folders');
  }
  return report;
}

export interface SpoolDiskUse {
  /** The file system holding the spool. */
  readonly filesystem: { readonly totalBytes: number; readonly availableBytes: number };
  /** Bytes in each spool folder. */
  readonly folders: Readonly<Record<'queue' | 'dead' | 'trace' | 'quarantine' | 'incoming', number>>;
}

type FolderSizes = SpoolDiskUse['folders'];

/** Bytes and files in one folder (one stat per file). */
async function folderBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) bytes += (await sizeAndMtime(join(dir, name)))?.bytes ?? 0;
  return { bytes, files: names.length };
}

/** Walks every folder: one stat per file. */
async function walkFolders(root: string): Promise<{ folders: FolderSizes; files: number }> {
  const folders = { queue: 0, dead: 0, trace: 0, quarantine: 0, incoming: 0 };
  let files = 0;
  for (const f of Object.keys(folders) as (keyof typeof folders)[]) {
    const one = await folderBytes(join(root, f));
    folders[f] = one.bytes;
    files += one.files;
  }
  return { folders, files };
}

/** How long a walk's answer is reused, per file it stat'ed. */
export const WALK_REUSE_MS_PER_FILE = 1;

/**
 * The bytes per spool folder for /status and /metrics, without letting a long queue (a cloud
 * outage: tens of thousands of files) turn every scrape into a stat of every file. A walk's answer
 * is reused for WALK_REUSE_MS_PER_FILE ms per file it stat'ed: a few files are walked afresh on
 * every ask; 50,000 at most once in 50 s, which bounds the walking to about 3 % of one CPU (a walk
 * of 50,000 files took 1.5 s of CPU on the test VM's ext4). The window counts from the walk's end.
 * Askers meanwhile share the walk in flight.
 */
export class FolderSizesPaced {
  private readonly root: string;
  private readonly now: () => number;
  private last: { at: number; files: number; folders: FolderSizes } | undefined;
  private walking: Promise<FolderSizes> | undefined;

  constructor(root: string, now: () => number) {
    this.root = root;
    this.now = now;
  }

  get(): Promise<FolderSizes> {
    const last = this.last;
    if (last && this.now() - last.at < last.files * WALK_REUSE_MS_PER_FILE)
      return Promise.resolve(last.folders);
    this.walking ??= walkFolders(this.root)
      .then(({ folders, files }) => {
        this.last = { at: this.now(), files, folders };
        return folders;
      })
      .finally(() => {
        this.walking = undefined;
      });
    return this.walking;
  }
}

/**
 * Disk use for /status and /metrics: free space where the spool lives (asked afresh), and each
 * folder's size (walked now, or by `sizes` when given).
 */
export async function spoolDiskUse(root: string, sizes?: FolderSizesPaced): Promise<SpoolDiskUse> {
  const fs = await statfs(root);
  const folders = sizes ? await sizes.get() : (await walkFolders(root)).folders;
  return {
    filesystem: { totalBytes: fs.blocks * fs.bsize, availableBytes: fs.bavail * fs.bsize },
    folders,
  };
}

/** Runs applyRetention at start and then every `retention.interval`; errors are logged, not thrown. */
export function startRetention(
  spool: Spool,
  retention: RetentionConfig,
  opts: {
    readonly now: () => number;
    readonly logger: Logger;
    readonly onReport?: (r: RetentionReport) => void;
  },
): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = running
      .then(() => applyRetention(spool, retention, opts.now(), opts.logger))
      .then(
        (r) => opts.onReport?.(r),
        (err: unknown) => opts.logger.error({ err }, 'spool: retention run failed'),
      );
  };
  run();
  const timer = setInterval(run, retention.interval);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
