// The off-loopback admin listener: TLS only (a kept self-signed certificate whose fingerprint is
// logged and printed by `check`), nothing without login, roles, lockout after failed logins, sessions
// that expire, every action logged with who did it, and the read-only monitoring bearer token.
// "LAN" here is a loopback address: tests never leave the machine.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connect } from 'node:tls';
import { beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../../../appliance/src/config/schema.ts';
import { createLogger } from '../../../../appliance/src/log.ts';
import { main } from '../../../../appliance/src/main.ts';
import { hashPassword } from '../../../../appliance/src/receiver/password.ts';
import { raw } from '../../../helpers/admin-http.ts';
import {
  applianceSandbox,
  baseConfigInput,
  sendMail,
  type TestAppliance,
  waitFor,
} from '../../../helpers/appliance.ts';
import { captureIo } from '../../../helpers/io.ts';

const sandbox = applianceSandbox('relaykit-lan-');
const TOKEN = 'monitoring-token-3f9a7c1e5b';
let hashes: { admin: string; viewer: string };

beforeEach(async () => {
  // Cheap scrypt cost for tests; the format and verification are the production ones.
  hashes = {
    admin: await hashPassword('correct horse battery', { N: 1024 }),
    viewer: await hashPassword('viewer password 1', { N: 1024 }),
  };
});

function lanConfig(dir: string) {
  return (c: ConfigInput): ConfigInput => ({
    ...c,
    credentials: { monitor: { file: join(dir, 'monitor-token') } },
    admin: {
      listener: { address: '127.0.0.1', port: 0, tls: { directory: join(dir, 'admin-tls') } },
      users: [
        { username: 'tech', passwordHash: hashes.admin, role: 'admin' },
        { username: 'watcher', passwordHash: hashes.viewer, role: 'viewer' },
      ],
      session: { idleTimeout: '10m', maxAge: '1h' },
      loginFailures: { limit: 3, window: '15m', block: '15m', delay: '1ms' },
      monitoringToken: 'monitor',
    },
  });
}

interface Lan {
  t: TestAppliance;
  port: number;
  logs: () => Record<string, unknown>[];
  clock: { now: number };
}

async function startLan(clock = { now: Date.now() }): Promise<Lan> {
  await writeFile(join(sandbox.dir, 'monitor-token'), `${TOKEN}\n`);
  const sink = new PassThrough();
  let out = '';
  sink.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const t = await sandbox.start(lanConfig(sandbox.dir), {
    logger: createLogger({ level: 'info', destination: sink }),
    now: () => clock.now,
  });
  const server = t.app.adminSurface?.server;
  if (!server) throw new Error('the admin listener did not start');
  const port = (server.address() as { port: number }).port;
  return {
    t,
    port,
    clock,
    logs: () =>
      out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const tls = { insecure: true };
const origin = (port: number) => `https://127.0.0.1:${port}`;

async function login(lan: Lan, username: string, password: string) {
  return raw(lan.port, {
    tls,
    method: 'POST',
    path: '/api/login',
    headers: { 'content-type': 'application/json', origin: origin(lan.port) },
    body: JSON.stringify({ username, password }),
  });
}

async function session(
  lan: Lan,
  username: string,
  password: string,
): Promise<{ cookie: string; csrf: string }> {
  const res = await login(lan, username, password);
  expect(res.status).toBe(200);
  const cookie = (([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '').split(';')[0] as string;
  const page = await raw(lan.port, { tls, path: '/', headers: { cookie } });
  expect(page.status).toBe(200);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)?.[1] as string;
  return { cookie, csrf };
}

describe('admin listener', () => {
  it('speaks only TLS 1.2+, with the certificate whose fingerprint is logged, kept across restarts and printed by check', async () => {
    const lan = await startLan();
    const surface = lan.t.app.adminSurface;
    expect(surface?.tls.generated).toBe(true);
    expect(surface?.tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const presented = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: lan.port, rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
        s.end();
      });
      s.on('error', reject);
    });
    expect(presented).toBe(surface?.tls.fingerprint);
    const started = lan.logs().find((l) => typeof l.msg === 'string' && l.msg.startsWith('admin: listening'));
    expect(started?.msg).toContain(`certificate SHA-256 ${surface?.tls.fingerprint}`);
    // Plain HTTP to the TLS port gets no answer from the API.
    await expect(raw(lan.port, { path: '/api/queue' })).rejects.toThrow();
    // TLS 1.1 is refused.
    await expect(
      new Promise((resolve, reject) => {
        const s = connect(
          {
            host: '127.0.0.1',
            port: lan.port,
            rejectUnauthorized: false,
            maxVersion: 'TLSv1.1',
            minVersion: 'TLSv1',
          },
          () => resolve(s),
        );
        s.on('error', reject);
      }),
    ).rejects.toThrow();
    const fingerprint = surface?.tls.fingerprint;
    await sandbox.stop();
    const again = await startLan();
    expect(again.t.app.adminSurface?.tls.generated).toBe(false);
    expect(again.t.app.adminSurface?.tls.fingerprint).toBe(fingerprint);
    const file = join(sandbox.dir, 'config.yaml');
    await writeFile(file, stringify(lanConfig(sandbox.dir)(baseConfigInput(sandbox.dir))));
    const io = captureIo();
    expect(await main(['check', '--config', file], io)).toBe(0);
    expect(io.out()).toContain(`certificate SHA-256 ${fingerprint}`);
  });

  it('demands login: page redirects, API and metrics 401; wrong passwords lock the address out', async () => {
    const lan = await startLan();
    const page = await raw(lan.port, { tls, path: '/' });
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/login');
    const form = await raw(lan.port, { tls, path: '/login' });
    expect(form.status).toBe(200);
    expect(form.text).toContain('<label for="password">Password</label>');
    expect((await raw(lan.port, { tls, path: '/api/queue' })).status).toBe(401);
    expect((await raw(lan.port, { tls, path: '/metrics' })).status).toBe(401);
    expect((await raw(lan.port, { tls, path: '/status' })).status).toBe(401);
    const wrong = await login(lan, 'tech', 'wrong password');
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toEqual({ error: 'wrong user name or password' });
    expect((await login(lan, 'nobody', 'x')).status).toBe(401);
    const third = await login(lan, 'tech', 'still wrong');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('900');
    // Blocked even with the right password, until the block ends.
    expect((await login(lan, 'tech', 'correct horse battery')).status).toBe(429);
    lan.clock.now += 15 * 60_000 + 1000;
    expect((await login(lan, 'tech', 'correct horse battery')).status).toBe(200);
    const failures = lan
      .logs()
      .filter((l) => (l.audit as { action?: string } | undefined)?.action === 'login-failed');
    expect(failures.length).toBe(4);
    expect(JSON.stringify(lan.logs())).not.toContain('wrong password');
  });

  it('login lockout and sessions survive a restart (the state file holds token hashes only); expiry still applies', async () => {
    const clock = { now: Date.now() };
    const lan = await startLan(clock);
    const { cookie } = await session(lan, 'tech', 'correct horse battery');
    const token = cookie.slice(cookie.indexOf('=') + 1);
    for (const pw of ['wrong 1', 'wrong 2']) expect((await login(lan, 'tech', pw)).status).toBe(401);
    expect((await login(lan, 'tech', 'wrong 3')).status).toBe(429);

    await sandbox.stop();
    const again = await startLan(clock);
    // Still locked out after the restart, even with the right password; the session still works.
    expect((await login(again, 'tech', 'correct horse battery')).status).toBe(429);
    expect((await raw(again.port, { tls, path: '/api/queue', headers: { cookie } })).status).toBe(200);
    const saved = await readFile(join(sandbox.dir, 'spool', 'state', 'admin-sessions.json'), 'utf8');
    expect(saved).not.toContain(token);
    expect(saved).toContain(createHash('sha256').update(token).digest('hex'));
    expect(await readFile(join(sandbox.dir, 'spool', 'state', 'lockout.json'), 'utf8')).toMatch(/"admin"/);

    // 11 minutes idle (session.idleTimeout 10m), restarted meanwhile: the session is gone, the
    // 15-minute block is not over yet; 5 minutes later it is.
    await sandbox.stop();
    clock.now += 11 * 60_000;
    const later = await startLan(clock);
    expect((await raw(later.port, { tls, path: '/api/queue', headers: { cookie } })).status).toBe(401);
    expect((await login(later, 'tech', 'correct horse battery')).status).toBe(429);
    clock.now += 5 * 60_000;
    expect((await login(later, 'tech', 'correct horse battery')).status).toBe(200);
  });

  it('a corrupt session or lockout state file is ignored with one warning each, never fatal', async () => {
    await mkdir(join(sandbox.dir, 'spool', 'state'), { recursive: true });
    await writeFile(
      join(sandbox.dir, 'spool', 'state', 'admin-sessions.json'),
      '{"version":1,"sessions":[{"tok',
    );
    await writeFile(join(sandbox.dir, 'spool', 'state', 'lockout.json'), '[1,2,3]');
    const lan = await startLan();
    const warnings = lan.logs().filter((l) => l.event === 'state-file');
    expect(warnings.map((w) => String(w.path).split('/').at(-1)).sort()).toEqual([
      'admin-sessions.json',
      'lockout.json',
    ]);
    expect(warnings.every((w) => w.level === 'warn')).toBe(true);
    await session(lan, 'tech', 'correct horse battery');
  });

  it('a login session is a Secure HttpOnly SameSite=Strict cookie that expires; actions are logged with who', async () => {
    const lan = await startLan();
    const res = await login(lan, 'tech', 'correct horse battery');
    const set = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '';
    expect(set).toMatch(
      /^__Host-relaykit=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure$/,
    );
    const { cookie, csrf } = await session(lan, 'tech', 'correct horse battery');
    await sendMail(lan.t.port, { subject: 'for deletion' });
    const id = await waitFor(
      async () => (await lan.t.app.admin.list('queue'))[0]?.id ?? (await lan.t.app.admin.list('dead'))[0]?.id,
      5000,
      'a spooled message',
    );
    await lan.t.app.engine.whenIdle();
    // Delivered to capture already, so deleting it must say 404 — with the who in the log either way.
    const headers = {
      cookie,
      'x-csrf-token': csrf,
      'content-type': 'application/json',
      origin: origin(lan.port),
    };
    const del = await raw(lan.port, { tls, method: 'DELETE', path: `/api/queue/${id}`, headers });
    expect(del.status).toBe(404);
    const retry = await raw(lan.port, { tls, method: 'POST', path: '/api/queue/all/retry', headers });
    expect(retry.status).toBe(200);
    const audit = lan.logs().find((l) => (l.audit as { action?: string } | undefined)?.action === 'retry');
    expect(audit?.audit).toMatchObject({
      who: 'tech',
      role: 'admin',
      via: 'lan',
      action: 'retry',
      id: 'all',
    });
    // Idle past idleTimeout: the session is gone.
    lan.clock.now += 10 * 60_000;
    expect((await raw(lan.port, { tls, path: '/api/queue', headers: { cookie } })).status).toBe(401);
    expect((await raw(lan.port, { tls, path: '/', headers: { cookie } })).status).toBe(303);
  });

  it('a viewer reads but cannot act; the monitoring token reads /metrics and /status only', async () => {
    const lan = await startLan();
    const { cookie, csrf } = await session(lan, 'watcher', 'viewer password 1');
    expect((await raw(lan.port, { tls, path: '/api/queue', headers: { cookie } })).status).toBe(200);
    const page = await raw(lan.port, { tls, path: '/', headers: { cookie } });
    expect(page.text).not.toContain('data-action="retry"');
    const retry = await raw(lan.port, {
      tls,
      method: 'POST',
      path: '/api/queue/all/retry',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', origin: origin(lan.port) },
    });
    expect(retry.status).toBe(403);
    expect(retry.json()).toEqual({ error: 'role viewer cannot retry messages; an admin can' });
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const metrics = await raw(lan.port, { tls, path: '/metrics', headers: bearer });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('relaykit_spool_depth');
    expect((await raw(lan.port, { tls, path: '/status', headers: bearer })).status).toBe(200);
    expect((await raw(lan.port, { tls, path: '/api/queue', headers: bearer })).status).toBe(403);
    expect(
      (await raw(lan.port, { tls, path: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })).status,
    ).toBe(401);
    const served = JSON.stringify(lan.logs());
    expect(served).not.toContain(TOKEN);
    expect(served).not.toContain(hashes.admin);
    expect(page.text).not.toContain('scrypt$');
  });
});
