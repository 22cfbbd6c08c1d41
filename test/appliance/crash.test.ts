// The appliance's one promise under the harshest stop: kill -9 in the middle of a load. Every message
// that got a 250 must be delivered after a restart. The next hop is a tarpit during the first run (it
// accepts the connection and never greets), so every acknowledged message is still spooled when the
// process dies: the restart really has a backlog to recover, and nothing can be delivered twice.
import { mkdir, readdir } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
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
    const tarpitSockets = new Set<Socket>();
    const tarpit = createServer((socket) => {
      tarpitSockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
    const tarpitPort = (tarpit.address() as { port: number }).port;
    const input = baseConfigInput(dir);
    const configPath = await writeConfig(dir, {
      ...input,
      routes: [
        {
          name: 'local',
          type: 'smtp',
          host: '127.0.0.1',
          port: tarpitPort,
          tls: { mode: 'none' },
          greetingTimeout: '10m',
          concurrency: 1,
        },
      ],
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
    for (const sock of tarpitSockets) sock.destroy();
    tarpit.close();
    expect(killedAfter).toBeGreaterThan(0);
    const queuedAtCrash = (await readdir(join(dir, 'spool', 'queue'))).filter((n) =>
      n.endsWith('.msg'),
    ).length;
    // Nothing could leave during the first run: every acknowledged message is in the queue.
    expect(queuedAtCrash).toBeGreaterThanOrEqual(acked.size);

    // The restart delivers through a capture route of the same name.
    const restartPath = join(dir, 'restart');
    await mkdir(restartPath);
    child = await startChild(
      await writeConfig(restartPath, {
        ...input,
        routes: [{ name: 'local', type: 'capture', directory: join(dir, 'outbox') }],
        http: { enabled: false },
        log: { level: 'info' },
      }),
    );
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
      `crash test: ${acked.size} acknowledged (killed after ${killedAfter}), ${queuedAtCrash} queued at the crash, ` +
        `${files.length} delivered after restart, ${lost.length} lost, ${duplicates} duplicates`,
    );
    expect(lost).toEqual([]);
    // One file per queued message (one leg each), none twice: the backlog is exactly what came out.
    expect(duplicates).toBe(0);
    expect(files.length).toBe(queuedAtCrash);
    // No stray temporaries survive the restart.
    expect(await readdir(join(dir, 'spool', 'incoming'))).toEqual([]);
  });
});
