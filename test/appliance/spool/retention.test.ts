import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../appliance/src/log.ts';
import { newEntryId } from '../../../appliance/src/spool/entry-name.ts';
import type { SpoolHeader } from '../../../appliance/src/spool/record.ts';
import {
  applyRetention,
  FolderSizesPaced,
  listDead,
  spoolDiskUse,
  WALK_REUSE_MS_PER_FILE,
} from '../../../appliance/src/spool/retention.ts';
import { planRetention, type RetentionItem } from '../../../appliance/src/spool/retention-plan.ts';
import { Spool } from '../../../appliance/src/spool/spool.ts';
import { makeConfig, removeDir, tempDir } from '../../helpers/appliance.ts';
import { pendingHeader } from '../../helpers/spool-header.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

function item(name: string, ageDays: number, bytes: number, pinned = false): RetentionItem {
  return { name, bytes, mtimeMs: NOW - ageDays * DAY, ...(pinned ? { pinned } : {}) };
}
const names = (plan: ReturnType<typeof planRetention>) =>
  plan.remove.map((r) => `${r.item.name}:${r.reason}`);

describe('planRetention', () => {
  it('deletes what is older than maxAge, then the oldest until the folder fits', () => {
    const items = [
      item('d', 1, 300),
      item('a', 40, 100),
      item('c', 5, 300),
      item('b', 31, 100),
      item('e', 0, 300),
    ];
    const plan = planRetention(items, { maxAge: 30 * DAY, maxSize: 700 }, NOW);
    expect(names(plan)).toEqual(['a:age', 'b:age', 'c:size']);
    expect(plan.keptBytes).toBe(600);
  });

  it('keeps everything within both limits (a file exactly maxAge old stays)', () => {
    const plan = planRetention([item('a', 30, 10), item('b', 1, 10)], { maxAge: 30 * DAY, maxSize: 20 }, NOW);
    expect(plan.remove).toEqual([]);
    expect(plan.keptBytes).toBe(20);
  });

  it('never deletes a pinned file, even over both limits', () => {
    const plan = planRetention(
      [item('today', 90, 500, true), item('old', 2, 10)],
      { maxAge: DAY, maxSize: 100 },
      NOW,
    );
    expect(names(plan)).toEqual(['old:age']);
    expect(plan.keptBytes).toBe(500);
  });

  it('property: kept files fit the limits unless pinned, and no kept file is older than a size-deleted one', () => {
    const arbItem = fc.record({
      name: fc.string({ minLength: 1, maxLength: 6 }),
      bytes: fc.nat(10_000),
      mtimeMs: fc.integer({ min: NOW - 60 * DAY, max: NOW }),
      pinned: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(arbItem, { maxLength: 30 }),
        fc.nat(50_000),
        fc.integer({ min: 0, max: 60 }),
        (items, maxSize, days) => {
          const limits = { maxAge: days * DAY, maxSize };
          const plan = planRetention(items, limits, NOW);
          const removed = new Set(plan.remove.map((r) => r.item));
          const kept = items.filter((i) => !removed.has(i));
          expect(plan.keptBytes).toBe(kept.reduce((s, i) => s + i.bytes, 0));
          expect(plan.remove.every((r) => !r.item.pinned)).toBe(true);
          const keptUnpinned = kept.filter((i) => !i.pinned);
          expect(keptUnpinned.every((i) => NOW - i.mtimeMs <= limits.maxAge)).toBe(true);
          // Over maxSize only when nothing but pinned files is left.
          if (plan.keptBytes > maxSize) expect(keptUnpinned).toEqual([]);
          const bySize = plan.remove.filter((r) => r.reason === 'size').map((r) => r.item.mtimeMs);
          if (bySize.length > 0) {
            expect(keptUnpinned.every((i) => i.mtimeMs >= Math.max(...bySize))).toBe(true);
          }
        },
      ),
    );
  });
});

const header = (id: string): SpoolHeader => pendingHeader(id, { receivedAt: NOW - 40 * DAY });

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

/** A dead letter whose files were last written `ageDays` ago. */
async function deadLetter(
  spool: Spool,
  ageDays: number,
  body = 'Subject: x\r\n\r\nbody\r\n',
): Promise<string> {
  const id = newEntryId();
  const w = await spool.begin(id);
  await w.write(Buffer.from(body));
  const e = await w.commit(header(id));
  await spool.deadLetter(
    id,
    e.deliveries.map((d) => ({ ...d, status: 'dead' as const, deadReason: 'test' })),
  );
  const t = new Date(NOW - ageDays * DAY);
  for (const ext of ['msg', 'state'] as const) await utimes(spool.pathOf('dead', id, ext), t, t);
  return id;
}

describe('applyRetention', () => {
  it('deletes old dead letters (.msg and .state) and old trace days, traces each deletion, keeps the newest trace file', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const old = await deadLetter(spool, 31);
    const recent = await deadLetter(spool, 2);
    for (const [day, age] of [
      ['2026-10-01', 63],
      ['2026-11-30', 3],
      ['2026-12-03', 0],
    ] as const) {
      const f = join(dir, 'trace', `${day}.jsonl`);
      await writeFile(f, '{}\n');
      const t = new Date(NOW - age * DAY);
      await utimes(f, t, t);
    }
    // Defaults: 30 days for both folders (config/retention.ts), sizes far above these few bytes.
    const { retention } = makeConfig(dir).spool;
    expect(retention.trace.maxAge).toBe(30 * DAY);
    const report = await applyRetention(spool, retention, NOW, silentLogger());

    expect(report.dead.removed).toBe(1);
    expect(report.trace.removed).toBe(1);
    expect((await readdir(join(dir, 'dead'))).sort()).toEqual([`${recent}.msg`, `${recent}.state`]);
    // The spool's own trace lines of this test (dead-lettering, the deletion) go to today's file: the
    // trace log dates by the real clock, retention here by the fixed NOW.
    const today = `${new Date().toISOString().slice(0, 10)}.jsonl`;
    expect((await readdir(join(dir, 'trace'))).sort()).toEqual(
      [...new Set(['2026-11-30.jsonl', '2026-12-03.jsonl', today])].sort(),
    );
    await spool.close();
    const traced = (await readdir(join(dir, 'trace'))).map((f) => readFile(join(dir, 'trace', f), 'utf8'));
    const lines = (await Promise.all(traced))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(
      expect.objectContaining({ id: old, event: 'deleted', by: 'retention', reason: 'age' }),
    );
  });

  it('deletes the oldest dead letters when the folder is over maxSize', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const body = `Subject: big\r\n\r\n${'x'.repeat(4000)}\r\n`;
    const a = await deadLetter(spool, 3, body);
    const b = await deadLetter(spool, 2, body);
    const c = await deadLetter(spool, 1, body);
    const each = (await listDead(dir)).find((i) => i.name === a)?.bytes ?? 0;
    expect(each).toBeGreaterThan(4000);
    const report = await applyRetention(
      spool,
      {
        interval: 3_600_000,
        trace: { maxAge: 30 * DAY, maxSize: 1 << 30 },
        dead: { maxAge: 30 * DAY, maxSize: 2 * each },
      },
      NOW,
      silentLogger(),
    );
    expect(report.dead).toEqual({ removed: 1, bytes: each, keptBytes: 2 * each });
    expect((await listDead(dir)).map((i) => i.name).sort()).toEqual([b, c].sort());
    await spool.close();
  });
});

describe('spoolDiskUse', () => {
  it('reports the file system and the bytes in each folder', async () => {
    const spool = await Spool.open(dir, silentLogger());
    await deadLetter(spool, 0, 'Subject: x\r\n\r\n12345\r\n');
    const use = await spoolDiskUse(dir);
    const dead = await listDead(dir);
    expect(use.folders.dead).toBe(dead[0]?.bytes);
    expect(use.folders.queue).toBe(0);
    expect(use.filesystem.totalBytes).toBeGreaterThan(0);
    expect(use.filesystem.availableBytes).toBeLessThanOrEqual(use.filesystem.totalBytes);
    expect((await stat(dir)).isDirectory()).toBe(true);
    await spool.close();
  });

  it("paced: a walk is reused for 1 ms per file it stat'ed, askers meanwhile share one walk", async () => {
    const spool = await Spool.open(dir, silentLogger());
    await spool.close();
    const q = (name: string, bytes: number) => writeFile(join(dir, 'queue', name), Buffer.alloc(bytes));
    for (let i = 0; i < 4; i++) await q(`m${i}.msg`, 100);
    let clock = 1_000;
    const sizes = new FolderSizesPaced(dir, () => clock);
    const first = sizes.get();
    expect(sizes.get()).toBe(first); // one walk in flight, shared
    expect((await first).queue).toBe(400);
    await q('m4.msg', 1_000);
    clock += 4 * WALK_REUSE_MS_PER_FILE - 1; // four files walked: reused just short of 4 ms
    expect((await sizes.get()).queue).toBe(400);
    expect((await spoolDiskUse(dir, sizes)).folders.queue).toBe(400);
    clock += 1;
    expect((await sizes.get()).queue).toBe(1_400);
    // A fresh walk each time when unpaced.
    await q('m5.msg', 1);
    expect((await spoolDiskUse(dir)).folders.queue).toBe(1_401);
  });
});
