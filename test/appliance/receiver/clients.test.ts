// Real SMTP clients from Debian against the appliance: swaks (single messages, AUTH) and postfix's
// smtp-source (concurrent load).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import { applianceSandbox, captured, waitFor } from '../../helpers/appliance.ts';
import { requireTool, run } from '../../helpers/tools.ts';

const sandbox = applianceSandbox();

describe('real clients', () => {
  it('swaks submits a message that the capture route delivers', async (ctx) => {
    const swaks = requireTool(ctx, 'swaks');
    const t = await sandbox.start();
    const r = await run(swaks, [
      '--server',
      `127.0.0.1:${t.port}`,
      '--from',
      'mfd@contoso.com',
      '--to',
      'finance@contoso.com',
      '--header',
      'Subject: swaks scan',
      '--body',
      'Page 1 of 1',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as [0-9a-z-]+/);
    const files = await waitFor(async () => {
      const f = await captured(join(sandbox.dir, 'outbox'));
      return f.length === 1 ? f : undefined;
    });
    expect(files[0]?.text).toContain('Subject: swaks scan');
    expect(files[0]?.text).toContain('Page 1 of 1');
  });

  it('swaks authenticates with AUTH PLAIN and LOGIN; a wrong password gets 535', async (ctx) => {
    const swaks = requireTool(ctx, 'swaks', ['Basic AUTH']);
    const passwordHash = await hashPassword('s3cret-passw0rd', { N: 1024 });
    const t = await sandbox.start((c) => ({
      ...c,
      listeners: [{ name: 'auth', address: '127.0.0.1', port: 0, auth: true, allowCleartextAuth: true }],
      identities: [{ name: 'nas', users: [{ username: 'nas01', passwordHash }] }],
    }));
    const base = [
      '--server',
      `127.0.0.1:${t.port}`,
      '--from',
      'nas@contoso.com',
      '--to',
      'ops@contoso.com',
      '--auth-user',
      'nas01',
    ];
    for (const mech of ['PLAIN', 'LOGIN']) {
      const ok = await run(swaks, [...base, '--auth', mech, '--auth-password', 's3cret-passw0rd']);
      expect(ok.code, ok.stdout).toBe(0);
      expect(ok.stdout).toMatch(/<- {2}235 /);
    }
    const bad = await run(swaks, [...base, '--auth', 'PLAIN', '--auth-password', 'wrong']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/<\*\* +535 5\.7\.8/);
    await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 2 ? true : undefined,
    );
  });

  it('smtp-source load: 20 sessions x 10 messages all spooled and delivered', async (ctx) => {
    const smtpSource = requireTool(ctx, 'smtp-source');
    const t = await sandbox.start();
    const r = await run(smtpSource, [
      '-4',
      '-d',
      '-s',
      '20',
      '-m',
      '200',
      '-l',
      '4096',
      '-f',
      'load@contoso.com',
      '-t',
      'sink@contoso.com',
      `127.0.0.1:${t.port}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      async () => ((await captured(join(sandbox.dir, 'outbox'))).length === 200 ? true : undefined),
      30_000,
      '200 captured messages',
    );
    expect(await t.app.metrics.get('relaykit_accepted_total', { listener: 'test' })).toBe(200);
    expect(await t.app.metrics.get('relaykit_delivered_total', { route: 'local' })).toBe(200);
  });
});
