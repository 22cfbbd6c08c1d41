// A real full disk under the spool: a small tmpfs mounted for this test (we are root; CI runs as
// root too). When a filler file takes the space, /readyz answers 503 naming the disk while /healthz
// stays 200 (restarting a full relay helps nothing), devices get 452 4.3.1, and when the space comes
// back the relay is ready and accepts mail again without a restart. Free space under
// spool.minFreeSpace raises one disk-low alert and logs its recovery.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApplianceOptions } from '../../../appliance/src/app.ts';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import {
  applianceSandbox,
  captured,
  sendMail,
  type TestAppliance,
  waitFor,
} from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { webhookServer } from '../../helpers/webhook.ts';

const sandbox = applianceSandbox('relaykit-diskfull-');
let mounted: string | undefined;

beforeEach((ctx) => {
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('the full-disk test mounts a tmpfs and needs root');
    ctx.skip(true, 'needs root: the test mounts a small tmpfs as the spool disk (CI runs as root)');
  }
});
afterEach(async () => {
  await sandbox.stop();
  if (mounted) execFileSync('umount', ['-l', mounted]);
  mounted = undefined;
});

async function get(t: TestAppliance, path: string) {
  const res = await fetch(`http://127.0.0.1:${t.app.httpPort}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Writes ever smaller blocks until the file system refuses even one byte (ENOSPC). */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [64 * 1024, 4096, 1]) {
      const block = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A 4 MiB tmpfs mounted for this test, the appliance's spool on it. */
async function startOnTmpfs(
  minFreeSpace: string,
  extra: { patch?: (c: ConfigInput) => ConfigInput; opts?: Partial<ApplianceOptions> } = {},
): Promise<{ fs: string; t: TestAppliance }> {
  const fs = join(sandbox.dir, 'spoolfs');
  mkdirSync(fs);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', fs]);
  mounted = fs;
  const patch = extra.patch ?? ((c: ConfigInput) => c);
  const t = await sandbox.start(
    (c) => patch({ ...c, spool: { ...c.spool, directory: join(fs, 'spool'), minFreeSpace } }),
    extra.opts,
  );
  return { fs, t };
}

describe('spool on a full disk', () => {
  it('/readyz 503 while /healthz stays 200, 452 to devices, and recovery when space returns', async () => {
    const { fs, t } = await startOnTmpfs('512KB');
    expect((await get(t, '/readyz')).status).toBe(200);
    await sendMail(t.port, { subject: 'before' });
    // Delivered and removed from the spool first: its freed pages would otherwise take the next one.
    await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 1 ? true : undefined,
    );
    await waitFor(async () => ((await t.app.spool.depthAndOldest()).depth === 0 ? true : undefined));

    const filler = join(fs, 'filler');
    fill(filler);
    const notReady = await get(t, '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ ready: false, intake: { state: 'refusing' } });
    expect((notReady.body.disk as { state: string }).state).toMatch(/^(unwritable|low)$/);
    expect((notReady.body.intake as { reason: string }).reason).toMatch(/spool/);
    const live = await get(t, '/healthz');
    expect(live.status).toBe(200);
    const status = await get(t, '/status');
    expect(status.body.overall).toBe('red');
    await expect(sendMail(t.port, { subject: 'while full' })).rejects.toThrow(/452/);

    rmSync(filler);
    const ready = await waitFor(async () => ((await get(t, '/readyz')).status === 200 ? true : undefined));
    expect(ready).toBe(true);
    await sendMail(t.port, { subject: 'after' });
    const out = await waitFor(async () => {
      const files = await captured(join(sandbox.dir, 'outbox'));
      return files.length === 2 ? files : undefined;
    });
    expect(out.map((f) => /Subject: (\S+)/.exec(f.text)?.[1]).sort()).toEqual(['after', 'before']);
  });

  it('free space under spool.minFreeSpace alone turns /readyz 503 before any write fails (mail still taken)', async () => {
    const { fs, t } = await startOnTmpfs('3MB');
    expect((await get(t, '/readyz')).status).toBe(200);
    // 1.5 MB taken: writes still work, but less than 3 MB is free.
    const fd = openSync(join(fs, 'half'), 'w');
    writeSync(fd, Buffer.alloc(1536 * 1024, 1));
    closeSync(fd);
    const r = await get(t, '/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({
      ready: false,
      disk: { state: 'low', writable: true },
      intake: { state: 'accepting' },
    });
    expect((r.body.intake as { reason: string }).reason).toMatch(/below spool\.minFreeSpace/);
    expect((await get(t, '/healthz')).status).toBe(200);
    await sendMail(t.port, { subject: 'still taken' });
  });

  it('low free space raises one disk-low alert however often it is looked at, and its recovery is logged', async () => {
    const hook = await webhookServer();
    const log = captureLog();
    // Each look is 20 minutes after the last: past notices.alerts.interval (15m), so a condition
    // alert raised at every look would go out again as a summary.
    let clock = Date.parse('2026-06-01T08:00:00Z');
    const look = async () => {
      clock += 20 * 60_000;
      await t.app.notices.check();
    };
    const { fs, t } = await startOnTmpfs('3MB', {
      patch: (c) => ({ ...c, notices: { alerts: { webhook: { url: hook.url, format: 'json' } } } }),
      // The test looks itself (notices.check), so the timer never races it.
      opts: { logger: log.logger, alertCheckInterval: 3_600_000, now: () => clock },
    });
    try {
      await look();
      await t.app.notices.settled();
      expect(hook.bodies).toEqual([]);
      const fd = openSync(join(fs, 'half'), 'w');
      writeSync(fd, Buffer.alloc(1536 * 1024, 1));
      closeSync(fd);
      for (let i = 0; i < 5; i++) await look();
      await t.app.notices.settled();
      const low = hook.bodies as { kind: string; key: string; count: number; text: string; hint?: string }[];
      expect(low).toHaveLength(1);
      expect(low[0]).toMatchObject({ kind: 'disk-low', key: 'spool', count: 1 });
      // 3MB is binary: 3 × 1024 × 1024 bytes.
      expect(low[0]?.text).toMatch(/below spool\.minFreeSpace \(3145728\)/);
      expect(low[0]?.hint).toMatch(/free disk space/);
      expect(log.lines().filter((l) => l.event === 'alert' && l.kind === 'disk-low')).toHaveLength(1);
      rmSync(join(fs, 'half'));
      for (let i = 0; i < 3; i++) await look();
      await t.app.notices.settled();
      const resolved = log.lines().filter((l) => l.event === 'alert-resolved');
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({ kind: 'disk-low', key: 'spool', level: 'info' });
      expect(hook.bodies).toHaveLength(1);
    } finally {
      hook.close();
    }
  });
});
