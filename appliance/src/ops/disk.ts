// Free space of the file system under a directory (the spool's), for readiness and alerts. One
// statfs call; no file is written (the spool's own write probe says whether writes work).
import { statfs } from 'node:fs/promises';

export interface DiskSpace {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

export async function diskSpace(path: string): Promise<DiskSpace | undefined> {
  try {
    const s = await statfs(path);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}
