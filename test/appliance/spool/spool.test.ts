import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSchedule, retryDelay } from '../../../appliance/src/config/schedule.ts';
import { silentLogger } from '../../../appliance/src/log.ts';
import {
  formatEntryId,
  isEntryId,
  newEntryId,
  parseEntryId,
} from '../../../appliance/src/spool/entry-name.ts';
import type { SpoolHeader } from '../../../appliance/src/spool/record.ts';
import { Spool } from '../../../appliance/src/spool/spool.ts';
import { removeDir, tempDir } from '../../helpers/appliance.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

function header(id: string, over: Partial<SpoolHeader> = {}): SpoolHeader {
  return {
    version: 1,
    id,
    receivedAt: Date.now(),
    envelope: { mailFrom: 'a@contoso.com', rcptTo: ['b@contoso.com', 'bcc@contoso.com'] },
    identity: 'scanners',
    sourceIp: '10.0.0.5',
    listener: 'lan',
    deliveries: [
      {
        route: 'local',
        recipients: ['b@contoso.com', 'bcc@contoso.com'],
        rule: 'default',
        status: 'pending',
        attempts: [],
        nextAttemptAt: 0,
      },
    ],
    ...over,
  };
}

async function spoolOne(spool: Spool, body: string, over: Partial<SpoolHeader> = {}) {
  const id = newEntryId();
  const w = await spool.begin(id);
  await w.write(Buffer.from(body));
  return w.commit(header(id, over));
}

describe('spool entries', () => {
  it('round-trips envelope (Bcc included), identity and message bytes', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const body = 'Subject: hi\r\n\r\nbody\r\n';
    const e = await spoolOne(spool, body);
    const back = await spool.read('queue', e.header.id);
    expect(back.header.envelope.rcptTo).toEqual(['b@contoso.com', 'bcc@contoso.com']);
    expect(back.header.identity).toBe('scanners');
    expect(back.message.length).toBe(Buffer.byteLength(body));
    const bytes = (await readFile(back.message.path)).subarray(0, back.message.length).toString();
    expect(bytes).toBe(body);
    expect(await readdir(join(dir, 'incoming'))).toEqual([]);
  });

  it('answers writable to many probes at once (/readyz, /status and the alert checker read it together)', async () => {
    const spool = await Spool.open(dir, silentLogger());
    // Probes started in the same millisecond once shared a file name: one unlinked the other's
    // file and a healthy spool read as unwritable (readiness 503).
    const results = await Promise.all(Array.from({ length: 50 }, () => spool.probeWritable()));
    expect(results.filter((ok) => !ok)).toHaveLength(0);
    expect(await readdir(join(dir, 'incoming'))).toEqual([]);
  });

  it('keeps delivery state beside the entry and prefers it over the header plan', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const e = await spoolOne(spool, 'x');
    const updated = e.deliveries.map((d) => ({ ...d, nextAttemptAt: 12345 }));
    await spool.saveState('queue', e.header.id, updated);
    expect((await spool.read('queue', e.header.id)).deliveries[0]?.nextAttemptAt).toBe(12345);
  });

  it('start-up sweeps temporaries, quarantines corrupt and truncated entries, and returns the good ones', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const good = await spoolOne(spool, 'Subject: good\r\n\r\nok\r\n');
    const trunc = await spoolOne(spool, `Subject: truncated\r\n\r\n${'z'.repeat(5000)}\r\n`);
    await truncate(trunc.message.path, 3000);
    const badJson = await spoolOne(spool, 'Subject: bad header\r\n\r\n');
    const raw = await readFile(badJson.message.path);
    raw.write('{"version":9', badJson.message.length); // damage the header JSON in place
    await writeFile(badJson.message.path, raw);
    const notSpool = `${newEntryId()}.msg`;
    await writeFile(join(dir, 'queue', notSpool), 'not a spool file at all');
    await writeFile(join(dir, 'queue', 'random-junk.txt'), 'junk');
    await writeFile(join(dir, 'incoming', `${newEntryId()}.tmp`), 'half a message');
    await spool.close();

    const reopened = await Spool.open(dir, silentLogger());
    const report = await reopened.recover();
    expect(report.swept).toBe(1);
    expect(report.entries.map((e) => e.header.id)).toEqual([good.header.id]);
    expect(report.quarantined).toHaveLength(4);
    const q = await readdir(join(dir, 'quarantine'));
    expect(q.filter((n) => n.endsWith('.reason'))).toHaveLength(4);
    // Each quarantined file keeps its own name (after a prefix) and says why it was set aside.
    const reasonOf = async (name: string) => {
      const file = q.find((n) => n.endsWith(`-${name}.reason`));
      return file === undefined
        ? `(no reason file for ${name})`
        : readFile(join(dir, 'quarantine', file), 'utf8');
    };
    const nameOf = (e: { message: { path: string } }) => e.message.path.split('/').pop() as string;
    expect({
      truncated: await reasonOf(nameOf(trunc)),
      badJson: await reasonOf(nameOf(badJson)),
      notSpool: await reasonOf(notSpool),
      junk: await reasonOf('random-junk.txt'),
    }).toEqual({
      truncated: 'footer missing or damaged\n',
      badJson: 'header JSON lacks required fields\n',
      notSpool: 'file too short (23 bytes)\n',
      junk: 'not a spool file name\n',
    });
    expect(await readdir(join(dir, 'incoming'))).toEqual([]);
  });

  it('dead-letters with reasons and requeues back to pending', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const e = await spoolOne(spool, 'x');
    const dead = e.deliveries.map((d) => ({
      ...d,
      status: 'dead' as const,
      deadReason: 'RELAY_DELIVERY_PERMANENT: nope',
    }));
    await spool.deadLetter(e.header.id, dead);
    expect((await spool.list('queue')).length).toBe(0);
    const listed = await spool.list('dead');
    expect(listed[0]?.deliveries[0]?.deadReason).toBe('RELAY_DELIVERY_PERMANENT: nope');
    expect(await spool.count('dead')).toBe(1);
    expect(await spool.count('queue')).toBe(0);
    const back = await spool.requeue(e.header.id, 42);
    expect(back.deliveries[0]?.status).toBe('pending');
    expect(back.deliveries[0]?.nextAttemptAt).toBe(42);
    expect(back.deliveries[0]?.deadReason).toBeUndefined();
    expect((await spool.list('dead')).length).toBe(0);
    expect(await spool.count('dead')).toBe(0);
  });

  it('aborting a writer leaves nothing behind', async () => {
    const spool = await Spool.open(dir, silentLogger());
    const w = await spool.begin(newEntryId());
    await w.write(Buffer.alloc(300_000, 65));
    await w.abort();
    expect(await readdir(join(dir, 'incoming'))).toEqual([]);
    expect(await readdir(join(dir, 'queue'))).toEqual([]);
  });
});

describe('entry ids', () => {
  it('round-trip through the name codec and sort by time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 36 ** 9 - 1 }),
        fc.integer({ min: 0, max: 36 ** 4 - 1 }),
        fc.stringMatching(/^[0-9a-f]{8}$/),
        (receivedAt, seq, random) => {
          const id = formatEntryId({ receivedAt, seq, random });
          expect(isEntryId(id)).toBe(true);
          expect(parseEntryId(id)).toEqual({ receivedAt, seq, random });
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 36 ** 9 - 2 }), fc.integer({ min: 1, max: 1e6 }), (a, d) => {
        const x = formatEntryId({ receivedAt: a, seq: 0, random: '00000000' });
        const y = formatEntryId({ receivedAt: Math.min(a + d, 36 ** 9 - 1), seq: 0, random: '00000000' });
        expect(x < y).toBe(true);
      }),
    );
  });

  it('are unique within one millisecond', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newEntryId(1_700_000_000_000)));
    expect(ids.size).toBe(1000);
  });
});

describe('retry schedule', () => {
  it('parses the readable form and repeats the last step', () => {
    const s = parseSchedule('1m,5m*2,30m');
    expect(s).toEqual([60_000, 300_000, 300_000, 1_800_000]);
    expect(retryDelay(s, 1)).toBe(60_000);
    expect(retryDelay(s, 3)).toBe(300_000);
    expect(retryDelay(s, 99)).toBe(1_800_000);
  });
  it('rejects malformed steps with the step named', () => {
    expect(() => parseSchedule('1m,,5m')).toThrow(/""/);
    expect(() => parseSchedule('1m,5x')).toThrow(/5x/);
    expect(() => parseSchedule('1m*0')).toThrow(/repeat/);
  });
});
