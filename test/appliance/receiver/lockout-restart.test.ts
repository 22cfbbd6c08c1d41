// The SMTP AUTH brute-force lockout survives a restart: an address blocked before the relay restarts
// (a re-created appliance over the same spool directory) is still answered 421 after it, until the
// block ends on the relay's clock; the state file (<spool>/state/lockout.json) holds addresses and
// times, never user names or passwords; a corrupt one is ignored with one warning.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import { applianceSandbox, type TestAppliance } from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

const sandbox = applianceSandbox('relaykit-lockout-');
afterEach(() => sandbox.stop());
let passwordHash: string;
beforeEach(async () => {
  passwordHash = await hashPassword('correct horse battery', { N: 1024 });
});

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');

function authListener(c: ConfigInput): ConfigInput {
  return {
    ...c,
    listeners: [
      {
        name: 'auth',
        address: '127.0.0.1',
        port: 0,
        auth: true,
        allowCleartextAuth: true,
        authFailures: { limit: 3, window: '15m', block: '10m', delay: '0s' },
      },
    ],
    identities: [{ name: 'app', users: [{ username: 'app1', passwordHash }] }],
  };
}

/** Greeting code, then (if 220) the AUTH reply code for the given password. */
async function tryAuth(t: TestAppliance, pass: string): Promise<number[]> {
  const c = await RawSmtp.connect(t.port);
  try {
    const greeting = await c.reply();
    if (greeting.code !== 220) return [greeting.code];
    await c.command('EHLO client.test');
    return [220, (await c.command(`AUTH PLAIN ${plain('app1', pass)}`)).code];
  } finally {
    c.close();
  }
}

describe('AUTH lockout across a restart', () => {
  it('blocked before the restart stays blocked after it; the block still ends on time', async () => {
    let clock = Date.parse('2026-05-04T09:00:00Z');
    const opts = { now: () => clock };
    let t = await sandbox.start(authListener, opts);
    expect(await tryAuth(t, 'guess 1')).toEqual([220, 535]);
    expect(await tryAuth(t, 'guess 2')).toEqual([220, 535]);
    expect(await tryAuth(t, 'guess 3')).toEqual([220, 421]);
    expect(await tryAuth(t, 'correct horse battery')).toEqual([421]);

    await sandbox.stop();
    t = await sandbox.start(authListener, opts);
    expect(await tryAuth(t, 'correct horse battery')).toEqual([421]);
    const state = await readFile(join(sandbox.dir, 'spool', 'state', 'lockout.json'), 'utf8');
    expect(JSON.parse(state)).toMatchObject({
      version: 1,
      trackers: { 'smtp:auth': { '127.0.0.1': { blockedUntil: clock + 10 * 60_000 } } },
    });
    expect(state).not.toMatch(/app1|guess|correct/);

    // Nine minutes later, restarted again: still blocked; at ten minutes the block is over.
    await sandbox.stop();
    clock += 9 * 60_000;
    t = await sandbox.start(authListener, opts);
    expect(await tryAuth(t, 'correct horse battery')).toEqual([421]);
    clock += 60_000;
    expect(await tryAuth(t, 'correct horse battery')).toEqual([220, 235]);
  });

  it('failures short of the limit count across a restart too', async () => {
    let t = await sandbox.start(authListener);
    expect(await tryAuth(t, 'guess 1')).toEqual([220, 535]);
    expect(await tryAuth(t, 'guess 2')).toEqual([220, 535]);
    await sandbox.stop();
    t = await sandbox.start(authListener);
    expect(await tryAuth(t, 'guess 3')).toEqual([220, 421]);
  });

  it('a corrupt state file is ignored with one warning; AUTH works and the file is rewritten', async () => {
    await mkdir(join(sandbox.dir, 'spool', 'state'), { recursive: true });
    const path = join(sandbox.dir, 'spool', 'state', 'lockout.json');
    await writeFile(path, '{"version":1,"trackers":{"smtp:auth":{"127.0.0.1":{"times":"x"');
    const log = captureLog();
    const t = await sandbox.start(authListener, { logger: log.logger });
    const warnings = log.lines().filter((l) => l.event === 'state-file');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', path });
    expect(await tryAuth(t, 'correct horse battery')).toEqual([220, 235]);
    expect(await tryAuth(t, 'guess 1')).toEqual([220, 535]);
    await t.app.stop();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      trackers: { 'smtp:auth': { '127.0.0.1': { blockedUntil: 0 } } },
    });
  });
});
