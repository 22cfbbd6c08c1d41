// The queue directory's fsync is shared by concurrent commits (spool-writer.ts DirSync), and a commit
// — after which the receiver answers 250 — resolves only after a directory fsync that started once
// its own rename was done: one running when the rename happened does not cover it. Directory fsyncs
// are held and released through the spool's syncDir seam (barriers, no clock).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../appliance/src/log.ts';
import { newEntryId } from '../../../appliance/src/spool/entry-name.ts';
import type { SpoolHeader } from '../../../appliance/src/spool/record.ts';
import { Spool, type SpoolWriter } from '../../../appliance/src/spool/spool.ts';
import { removeDir, tempDir } from '../../helpers/appliance.ts';
import { pendingHeader } from '../../helpers/spool-header.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const header = (id: string): SpoolHeader => pendingHeader(id);

/** One held directory fsync: the queue files present when it started, and its release. */
interface HeldSync {
  readonly sawInQueue: string[];
  release(): void;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('spool: group commit of the queue directory fsync', () => {
  it('a commit whose rename came while a directory fsync ran waits for the next one, which later commits share', async () => {
    const held: HeldSync[] = [];
    let started = deferred();
    const spool = await Spool.open(dir, silentLogger(), {
      syncDir: async (path, sync) => {
        const gate = deferred();
        held.push({ sawInQueue: readdirSync(path).sort(), release: gate.resolve });
        started.resolve();
        await sync();
        await gate.promise;
      },
    });
    // Counts the writers' requests for a directory fsync (each after its rename).
    let requests = 0;
    const syncQueueDir = spool.syncQueueDir.bind(spool);
    spool.syncQueueDir = () => {
      requests += 1;
      return syncQueueDir();
    };
    const ids = [newEntryId(), newEntryId(), newEntryId()];
    const [a, b, c] = (await Promise.all(ids.map((id) => spool.begin(id)))) as [
      SpoolWriter,
      SpoolWriter,
      SpoolWriter,
    ];
    const done: string[] = [];
    const commit = (w: SpoolWriter, id: string) =>
      w.commit(header(id)).then(() => {
        done.push(id);
      });

    const first = commit(a, ids[0] as string);
    await started.promise;
    expect(held).toHaveLength(1);
    expect(held[0]?.sawInQueue).toEqual([`${ids[0]}.msg`]);

    // B and C rename into queue/ and ask for a directory fsync while the first is still running.
    started = deferred();
    const second = commit(b, ids[1] as string);
    const third = commit(c, ids[2] as string);
    while (requests < 3) await new Promise((r) => setImmediate(r));
    expect(readdirSync(join(dir, 'queue'))).toHaveLength(3);
    held[0]?.release();
    await first;
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    // A is committed; B and C are not: the fsync that ran during their renames does not count.
    expect(done).toEqual([ids[0]]);
    await started.promise;
    expect(held).toHaveLength(2);
    expect(held[1]?.sawInQueue).toEqual(ids.map((id) => `${id}.msg`).sort());
    held[1]?.release();
    await Promise.all([second, third]);
    // One further fsync covered both.
    expect(done.slice(1).sort()).toEqual([ids[1], ids[2]].sort());
    expect(held).toHaveLength(2);
    await spool.close();
  });
});
