// The appliance's one promise under the harshest stop: kill -9 in the middle of a load. Every message
// that got a 250 must be delivered after a restart (at-least-once: duplicates are reported, loss is a
// failure).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseConfigInput, captured, removeDir, tempDir, waitFor } from '../helpers/appliance.ts';
import { type ChildAppliance, startChild, writeConfig } from '../helpers/child-appliance.ts';

let dir: string;
let child: ChildAppliance | undefined;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  child?.proc.kill('SIGKILL');
  child = undefined;
  await removeDir(dir);
});

const TOTAL = 300;

describe('crash safety', () => {
  it('kill -9 mid-load loses no acknowledged message', async () => {
    const input = baseConfigInput(dir);
    const configPath = await writeConfig(dir, {
      ...input,
      // One delivery at a time so a backlog is spooled but undelivered when the process dies.
      routes: [{ name: 'local', type: 'capture', directory: join(dir, 'outbox'), concurrency: 1 }],
      http: { enabled: false },
      log: { level: 'info' },
    });
    child = await startChild(configPath);
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: child.port,
      pool: true,
      maxConnections: 20,
      maxMessages: Number.POSITIVE_INFINITY,
      ignoreTLS: true,
    });
    const acked = new Set<string>();
    let killedAfter = -1;
    const sends = Array.from({ length: TOTAL }, async (_, i) => {
      const messageId = `<crash-${i}-${Date.now()}@relaykit.test>`;
      try {
        const info = await transport.sendMail({
          from: 'load@contoso.com',
          to: [`r${i % 7}@contoso.com`],
          bcc: 'audit@contoso.com',
          subject: `crash ${i}`,
          text: `message ${i}\n`.repeat(200),
          messageId,
        });
        if (/^250 /.test(info.response)) acked.add(messageId);
        if (acked.size === Math.floor(TOTAL / 2) && killedAfter < 0 && child) {
          killedAfter = acked.size;
          child.proc.kill('SIGKILL');
        }
      } catch {
        // Not acknowledged: the device would retry; the relay owes it nothing.
      }
    });
    await Promise.all(sends);
    transport.close();
    await child.exited;
    expect(killedAfter).toBeGreaterThan(0);
    const queuedAtCrash = (await readdir(join(dir, 'spool', 'queue'))).filter((n) =>
      n.endsWith('.msg'),
    ).length;

    child = await startChild(configPath);
    await waitFor(
      async () =>
        (await readdir(join(dir, 'spool', 'queue'))).filter((n) => n.endsWith('.msg')).length === 0
          ? true
          : undefined,
      60_000,
      'queue to drain after restart',
    );
    const files = await captured(join(dir, 'outbox'));
    const seen = new Map<string, number>();
    for (const f of files) {
      const id = /^Message-ID: (<[^>]+>)/im.exec(f.text)?.[1];
      if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const lost = [...acked].filter((id) => !seen.has(id));
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(
      `crash test: ${acked.size} acknowledged (killed after ${killedAfter}), ${queuedAtCrash} still queued at the crash, ` +
        `${files.length} delivered after restart, ${lost.length} lost, ${duplicates} duplicates`,
    );
    expect(lost).toEqual([]);
    expect(acked.size).toBeGreaterThanOrEqual(killedAfter);
    // No stray temporaries survive the restart.
    expect(await readdir(join(dir, 'spool', 'incoming'))).toEqual([]);
  });
});
