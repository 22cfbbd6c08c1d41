// `queue handoff --to HOST:PORT` (issue 19, scale-down): two appliances on loopback. A queues mail it
// cannot deliver (its next hop refuses connections) and stops; handoff resends each message to B by
// SMTP and removes it from A only after B's 250. A peer that is down keeps every entry (exit 1), and a
// running relay refuses the handoff.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../appliance/src/cli/program.ts';
import {
  applianceSandbox,
  baseConfigInput,
  captured,
  removeDir,
  sendMail,
  startTestAppliance,
  tempDir,
  waitFor,
} from '../../helpers/appliance.ts';
import { writeConfig } from '../../helpers/child-appliance.ts';
import { captureIo } from '../../helpers/io.ts';
import { freePort } from '../../helpers/ports.ts';

describe('queue handoff', () => {
  const a = applianceSandbox('relaykit-handoff-a-');

  async function queueOnA(): Promise<{ configPath: string; ids: string[] }> {
    const closed = await freePort();
    const patch = (c: ReturnType<typeof baseConfigInput>) => ({
      ...c,
      routes: [
        {
          name: 'local',
          type: 'smtp' as const,
          host: '127.0.0.1',
          port: closed,
          tls: { mode: 'none' as const },
        },
      ],
      spool: { ...c.spool, retrySchedule: '10m' },
      http: { enabled: false },
    });
    const configPath = await writeConfig(a.dir, patch(baseConfigInput(a.dir)));
    const app = await a.start(patch);
    const ids: string[] = [];
    for (const [subject, to] of [
      ['one', ['x@contoso.com']],
      ['two', ['y@contoso.com', 'z@fabrikam.com']],
    ] as const) {
      const r = await sendMail(app.port, { subject, to: [...to], from: 'scan@contoso.com' });
      ids.push(/queued as (\S+)/.exec(r.response)?.[1] as string);
    }
    await a.stop();
    return { configPath, ids };
  }

  it('moves every queued message to the peer, each removed only after its 250', async () => {
    const { configPath, ids } = await queueOnA();
    const bDir = await tempDir('relaykit-handoff-b-');
    const b = await startTestAppliance(bDir);
    try {
      const io = captureIo();
      const code = await runCli(
        ['queue', 'handoff', '--to', `127.0.0.1:${b.port}`, '--config', configPath, '--json'],
        io,
      );
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      const out = JSON.parse(io.out()) as { results: { id: string; ok: boolean; reply: string }[] };
      expect(out.results.map((r) => [r.id, r.ok])).toEqual(ids.map((id) => [id, true]));
      for (const r of out.results) expect(r.reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
      expect((await readdir(join(a.dir, 'spool', 'queue'))).filter((f) => f.endsWith('.msg'))).toEqual([]);
      const got = await waitFor(async () => {
        const m = await captured(join(bDir, 'outbox'));
        return m.length === 2 ? m : undefined;
      });
      const texts = got.map((m) => m.text).join('\n');
      expect(texts).toContain('Subject: one');
      expect(texts).toContain('Subject: two');
      expect(texts).toContain('z@fabrikam.com');
    } finally {
      await b.stop();
      await removeDir(bDir);
    }
  });

  it('keeps every entry when the peer is down, and refuses while the relay runs', async () => {
    const { configPath, ids } = await queueOnA();
    const io = captureIo();
    const code = await runCli(
      ['queue', 'handoff', '--to', `127.0.0.1:${await freePort()}`, '--config', configPath],
      io,
    );
    expect(code).toBe(1);
    expect(io.out()).toContain('0 handed off, 2 kept');
    const left = (await readdir(join(a.dir, 'spool', 'queue'))).filter((f) => f.endsWith('.msg'));
    expect(left.length).toBe(2);
    for (const id of ids) expect(left.some((f) => f.startsWith(`${id}.`))).toBe(true);

    const running = await a.start((c) => ({ ...c, http: { port: 0 } }));
    const live = await writeConfig(a.dir, {
      ...baseConfigInput(a.dir),
      http: { port: running.app.httpPort as number },
    });
    const io2 = captureIo();
    expect(await runCli(['queue', 'handoff', '--to', '127.0.0.1:25', '--config', live], io2)).toBe(1);
    expect(io2.err()).toContain('the relay is running (its status port answers); stop it before a handoff');
  });
});
