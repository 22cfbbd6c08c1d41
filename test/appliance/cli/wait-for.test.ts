// `run --wait-for FILE` (issue 18, VM boot): the relay loads, then reads its config only once FILE
// exists — the VM's relaykit.service starts beside relaykit-firstboot, which installs the config and
// then writes /run/relaykit/firstboot.done.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markDone } from '../../../appliance/image/firstboot.ts';
import { waitForFile } from '../../../appliance/src/cli/wait-file.ts';
import { baseConfigInput, removeDir, tempDir, waitFor } from '../../helpers/appliance.ts';
import { NODE, ROOT, writeConfig } from '../../helpers/child-appliance.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

let dir: string;
const procs: ReturnType<typeof spawn>[] = [];
beforeEach(async () => {
  dir = await tempDir('relaykit-waitfor-');
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await removeDir(dir);
});

describe('waitForFile', () => {
  it('looks every 100 ms until the file exists', async () => {
    let looks = 0;
    const sleeps: number[] = [];
    await waitForFile('/x', { exists: () => ++looks === 4, sleep: async (ms) => void sleeps.push(ms) });
    expect(looks).toBe(4);
    expect(sleeps).toEqual([100, 100, 100]);
  });
});

describe('firstboot markDone', () => {
  it('writes the done file, creating its directory', async () => {
    const path = join(dir, 'run/relaykit/firstboot.done');
    markDone(path);
    expect(existsSync(path)).toBe(true);
  });
});

describe('relaykit-appliance run --wait-for', () => {
  it('reads no config until the file exists, then starts from the config written meanwhile', async () => {
    const config = join(dir, 'config.yaml');
    const done = join(dir, 'firstboot.done');
    const proc = spawn(
      NODE,
      [join(ROOT, 'appliance/src/main.ts'), 'run', '--config', config, '--wait-for', done],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    procs.push(proc);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    // The config does not exist yet: a relay that read it now would exit with "not found".
    await waitFor(() => (out.includes(`waiting for ${done}`) ? true : undefined), 30_000, 'the waiting line');
    expect(proc.exitCode).toBeNull();
    expect(out).not.toContain('appliance started');

    await writeConfig(dir, { ...baseConfigInput(dir), log: { level: 'info' } });
    await writeFile(done, '');
    const line = await waitFor(
      () => out.split('\n').find((l) => l.includes('"appliance started"')),
      30_000,
      'appliance started',
    );
    const port = (JSON.parse(line) as { listeners: { port: number }[] }).listeners[0]?.port as number;
    const smtp = await RawSmtp.connect(port);
    expect((await smtp.reply()).code).toBe(220);
    await smtp.command('QUIT');
  });
});
