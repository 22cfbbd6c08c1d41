import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../../appliance/src/main.ts';
import { verifyPassword } from '../../../appliance/src/receiver/password.ts';
import { applianceSandbox, baseConfigInput, sendMail, waitFor } from '../../helpers/appliance.ts';
import { captureIo } from '../../helpers/io.ts';
import { freePort } from '../../helpers/ports.ts';
import { SmtpSink } from '../../helpers/sim/smtp-sink.ts';

const ROOT = join(import.meta.dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'appliance/bin/relaykit-appliance.js');

const sandbox = applianceSandbox();

function cli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const { RELAYKIT_CONFIG: _, ...base } = process.env;
  return spawnSync(NODE, [BIN, ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...base, ...env },
  });
}

/**
 * Runs hash-password on a pseudo-terminal (util-linux `script`) and types each answer once its prompt
 * shows: the terminal echoes whatever arrives while echo is on, so the transcript shows any echo.
 */
async function hashOnTerminal(answers: string[]): Promise<{ code: number | null; transcript: string }> {
  const p = spawn('script', ['-qfec', `${NODE} ${BIN} hash-password`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let transcript = '';
  const pending = [...answers];
  let prompts = 0;
  p.stdout.on('data', (d: Buffer) => {
    transcript += d.toString();
    const seen = (transcript.match(/(password|again): /g) ?? []).length;
    while (prompts < seen) {
      prompts++;
      const answer = pending.shift();
      if (answer !== undefined) p.stdin.write(`${answer}\r`);
    }
  });
  const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
  return { code, transcript };
}

describe('relaykit-appliance check', () => {
  it('exits 0 for a valid file and 1 naming the bad keys for an invalid one', async () => {
    // The example names placeholder files and secrets: its shape is valid, what it names is not here.
    const good = cli(['check', '--schema-only', '--config', join(ROOT, 'appliance/config.example.yaml')]);
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/^ok: .*config\.example\.yaml is valid/);
    const bad = cli(['check', '--config', join(ROOT, 'test/fixtures/config/bad-many.yaml')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^RELAY_CONFIG_INVALID: invalid configuration in /);
    expect(bad.stderr).toContain('  - listeners[0].port:');
    expect(bad.stderr).toContain('  - spool.retrySchedule:');
  });

  it('warns about an allowlist open to the whole Internet', async () => {
    const path = join(sandbox.dir, 'open.yaml');
    await writeFile(
      path,
      stringify({
        ...baseConfigInput(sandbox.dir),
        identities: [{ name: 'world', networks: ['0.0.0.0/0'] }],
      }),
    );
    const io = captureIo();
    expect(await main(['check', '--config', path], io)).toBe(0);
    expect(io.err()).toMatch(/warning: identities\[0\] \(world\): network 0\.0\.0\.0\/0 lets every address/);
  });

  it('warns when the status port (and its queue API) leaves loopback', async () => {
    const path = join(sandbox.dir, 'http.yaml');
    await writeFile(
      path,
      stringify({ ...baseConfigInput(sandbox.dir), http: { address: '0.0.0.0', port: 0 } }),
    );
    const io = captureIo();
    expect(await main(['check', '--config', path], io)).toBe(0);
    expect(io.err()).toContain("warning: http.address 0.0.0.0: the status port's queue API");
  });
});

describe('relaykit-appliance hash-password', () => {
  it('reads the password on stdin and prints a verifiable scrypt hash', async () => {
    const r = cli(['hash-password'], 'printer-pass-123\n');
    expect(r.status).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('printer-pass-123', hash)).toBe(true);
    expect(await verifyPassword('other', hash)).toBe(false);
  });

  it('on a terminal asks twice with echo off and prints only the hash', async (ctx) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      if (process.env.CI) throw new Error('util-linux script is missing');
      ctx.skip(true, 'util-linux script is not installed');
    }
    const ok = await hashOnTerminal(['tty-secret-123', 'tty-secret-123']);
    expect(ok.transcript).not.toContain('tty-secret');
    expect(ok.code).toBe(0);
    const hash = /scrypt\$\S+/.exec(ok.transcript)?.[0] as string;
    expect(await verifyPassword('tty-secret-123', hash)).toBe(true);
    const differ = await hashOnTerminal(['tty-secret-123', 'tty-secret-456']);
    expect(differ.code).toBe(1);
    expect(differ.transcript).toContain('the two passwords differ; nothing printed');
    expect(differ.transcript).not.toMatch(/scrypt\$|tty-secret/);
  });

  it('refuses an empty or short password', () => {
    const r = cli(['hash-password'], 'short\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('RELAY_USAGE');
  });
});

describe('RELAYKIT_CONFIG', () => {
  it('is the config of every command that reads one, unless --config names another', async () => {
    const path = join(sandbox.dir, 'from-env.yaml');
    await writeFile(path, stringify(baseConfigInput(sandbox.dir)));
    const env = { RELAYKIT_CONFIG: path };
    const check = cli(['check'], undefined, env);
    expect(check.status).toBe(0);
    expect(check.stdout).toBe(`ok: ${path} is valid (1 listener(s), 1 identity, 1 route(s))\n`);
    const example = join(ROOT, 'appliance/config.example.yaml');
    expect(cli(['check', '--schema-only', '--config', example], undefined, env).stdout).toMatch(
      /^ok: .*config\.example\.yaml/,
    );
    // queue/dead: the spool named in the env's config is the one listed (it is created on open).
    const dead = cli(['dead', 'list'], undefined, env);
    expect(dead.stdout).toBe('(empty)\n');
    expect(existsSync(join(sandbox.dir, 'spool'))).toBe(true);
    const explain = cli(
      ['route', 'explain', '--from', 'a@contoso.com', '--to', 'b@contoso.com'],
      undefined,
      env,
    );
    expect(explain.status).toBe(0);
    expect(explain.stdout).toMatch(/^ROUTE {2}local {2}rule=default/);
  });
});

describe('relaykit-appliance queue / dead', () => {
  async function configWithDeadRoute(httpPort: number) {
    const input = {
      ...baseConfigInput(sandbox.dir),
      // A capture route into a path that cannot be a directory: every delivery fails permanently.
      routes: [{ name: 'broken', type: 'capture' as const, directory: '/dev/null/outbox' }],
      defaultRoute: 'broken',
      http: { port: httpPort },
    };
    const path = join(sandbox.dir, 'config.yaml');
    await writeFile(path, stringify(input));
    return { input, path };
  }

  it('lists, shows, requeues and deletes dead letters through a running appliance', async () => {
    const port = await freePort();
    const { input, path } = await configWithDeadRoute(port);
    const t = await sandbox.start(() => input);
    await sendMail(t.port, { subject: 'will die' });
    await waitFor(async () => ((await t.app.spool.list('dead'))?.length === 1 ? true : undefined));

    let io = captureIo();
    expect(await main(['dead', 'list', '--config', path], io)).toBe(0);
    const id = /^([0-9a-z]{9}-[0-9a-z]{4}-[0-9a-f]{8}) /m.exec(io.out())?.[1] as string;
    expect(id).toBeDefined();
    expect(io.out()).toMatch(/broken:dead\(1 tries\) RELAY_DELIVERY_PERMANENT: capture write failed/);

    io = captureIo();
    expect(await main(['dead', 'show', id, '--config', path, '--json'], io)).toBe(0);
    const shown = JSON.parse(io.out()) as { subject: string; deliveries: { status: string }[] };
    expect(shown.subject).toBe('will die');

    io = captureIo();
    expect(await main(['dead', 'requeue', id, '--config', path], io)).toBe(0);
    // Requeued, it fails again and returns to the dead-letter folder with two attempts on record.
    await waitFor(async () => {
      const d = await t.app.spool.list('dead');
      return d?.length === 1 && d[0]?.deliveries[0]?.attempts.length === 2 ? true : undefined;
    });

    io = captureIo();
    expect(await main(['dead', 'delete', id, '--config', path], io)).toBe(0);
    expect(await t.app.spool.list('dead')).toEqual([]);

    io = captureIo();
    expect(await main(['dead', 'show', id, '--config', path], io)).toBe(1);
    expect(io.err()).toContain('RELAY_SPOOL_NOT_FOUND');
  });

  it('works on the spool files when the appliance is stopped', async () => {
    const { input, path } = await configWithDeadRoute(await freePort());
    const t = await sandbox.start(() => input);
    await sendMail(t.port, { subject: 'offline' });
    await waitFor(async () => ((await t.app.spool.list('dead'))?.length === 1 ? true : undefined));
    await sandbox.stop();
    const io = captureIo();
    expect(await main(['dead', 'list', '--config', path, '--json'], io)).toBe(0);
    const rows = JSON.parse(io.out()) as { id: string; legs: { deadReason: string }[] }[];
    expect(rows).toHaveLength(1);
    const id = rows[0]?.id as string;
    expect(await main(['dead', 'requeue', id, '--config', path], captureIo())).toBe(0);
    const q = captureIo();
    expect(await main(['queue', 'list', '--config', path, '--json'], q)).toBe(0);
    expect((JSON.parse(q.out()) as { id: string }[]).map((r) => r.id)).toEqual([id]);
    expect(await main(['queue', 'retry', id, '--config', path], captureIo())).toBe(0);
    expect(await main(['queue', 'delete', id, '--config', path], captureIo())).toBe(0);
    const empty = captureIo();
    expect(await main(['queue', 'list', '--config', path], empty)).toBe(0);
    expect(empty.out().trim()).toBe('(empty)');
  });

  it('answers a usage error with exit 2', async () => {
    const io = captureIo();
    expect(await main(['queue', 'frobnicate'], io)).toBe(2);
    expect(io.err()).toContain('usage:');
    expect(await main(['nonsense'], captureIo())).toBe(2);
  });
});

describe('relaykit-appliance run', () => {
  it('stops cleanly on SIGTERM with exit 0 after draining', async () => {
    // The next hop holds its reply to the final dot until the test lets go, so a delivery is in
    // flight when SIGTERM arrives; the relay must finish it before it exits.
    let held!: () => void;
    const arrived = new Promise<void>((resolve) => {
      held = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sink = new SmtpSink({
      tls: 'none',
      beforeReply: async () => {
        held();
        await released;
      },
    });
    const sinkPort = await sink.start();
    try {
      const input = {
        ...baseConfigInput(sandbox.dir),
        routes: [
          {
            name: 'local',
            type: 'smtp' as const,
            host: '127.0.0.1',
            port: sinkPort,
            tls: { mode: 'none' as const },
          },
        ],
        delivery: { drainTimeout: '30s' },
        log: { level: 'info' as const },
      };
      const { startChild, writeConfig } = await import('../../helpers/child-appliance.ts');
      const child = await startChild(await writeConfig(sandbox.dir, input));
      const info = await sendMail(child.port, { subject: 'before stop' });
      expect(info.response).toMatch(/^250 /);
      await arrived;
      child.proc.kill('SIGTERM');
      await waitFor(() => (child.output().includes('stopping: draining deliveries') ? true : undefined));
      expect(sink.messages).toHaveLength(0);
      release();
      expect(await child.exited).toBe(0);
      expect(child.output()).toMatch(/"drained":true,"msg":"stopped"/);
      expect(sink.messages.map((m) => m.raw.toString())).toEqual([
        expect.stringContaining('Subject: before stop'),
      ]);
      expect((await readdir(join(sandbox.dir, 'spool', 'queue'))).filter((n) => n.endsWith('.msg'))).toEqual(
        [],
      );
      expect(child.output()).toContain('swaks --server 127.0.0.1:');
    } finally {
      release();
      await sink.close();
    }
  });
});
