// SIGTERM as Kubernetes sends it (issue 19): the relay turns /readyz 503 at once (the endpoint leaves
// the Service), stops accepting connections, lets a message whose DATA is under way finish with 250,
// exits 0, and leaves every undelivered message in its spool (the next hop refuses connections, so
// nothing can leave). A pod restarted on the same volume then owns that spool again.
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseConfigInput, removeDir, tempDir, waitFor } from '../../helpers/appliance.ts';
import { type ChildAppliance, startChild, writeConfig } from '../../helpers/child-appliance.ts';
import { freePort } from '../../helpers/ports.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

let dir: string;
let child: ChildAppliance | undefined;
beforeEach(async () => {
  dir = await tempDir('relaykit-drain-');
});
afterEach(async () => {
  child?.proc.kill('SIGKILL');
  child = undefined;
  await removeDir(dir);
});

async function readyz(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('SIGTERM drain', () => {
  it('readyz 503 at once, no new connections, the open DATA finishes with 250, exit 0, spool intact', async () => {
    const closed = await freePort();
    const input = baseConfigInput(dir);
    const configPath = await writeConfig(dir, {
      ...input,
      routes: [{ name: 'local', type: 'smtp', host: '127.0.0.1', port: closed, tls: { mode: 'none' } }],
      spool: { ...input.spool, retrySchedule: '10m' },
      delivery: { drainTimeout: '20s' },
      log: { level: 'info' },
    });
    child = await startChild(configPath);
    const http = child.httpPort as number;
    expect(await readyz(http)).toBe(200);

    // One message already queued (the next hop refuses, so it stays), one in the middle of DATA.
    const first = await RawSmtp.connect(child.port);
    expect((await first.reply()).code).toBe(220);
    for (const c of ['EHLO drain-test', 'MAIL FROM:<a@contoso.com>', 'RCPT TO:<b@contoso.com>', 'DATA'])
      await first.command(c);
    const queued = await first.command('Subject: queued before SIGTERM\r\n\r\none\r\n.');
    expect(queued.code).toBe(250);
    for (const c of ['MAIL FROM:<a@contoso.com>', 'RCPT TO:<b@contoso.com>']) await first.command(c);
    expect((await first.command('DATA')).code).toBe(354);
    first.write('Subject: in flight at SIGTERM\r\n\r\nhalf a body\r\n');

    child.proc.kill('SIGTERM');
    await waitFor(async () => (await readyz(http)) === 503, 10_000, '/readyz 503');
    await waitFor(() => refusesConnections(child?.port as number), 10_000, 'listener closed');

    const inFlight = await first.command('the rest\r\n.');
    expect(inFlight.code).toBe(250);
    // Between messages a session gets 421 (smtp-server's "Server shutting down"); the device retries.
    expect((await first.command('MAIL FROM:<a@contoso.com>')).code).toBe(421);
    first.close();
    expect(await child.exited).toBe(0);
    expect(child.output()).toContain('"signal":"SIGTERM","msg":"stopping: draining deliveries"');

    const ids = [queued, inFlight].map((r) => /queued as (\S+)/.exec(r.text)?.[1]);
    const files = await readdir(join(dir, 'spool', 'queue'));
    for (const id of ids) expect(files.some((f) => f.startsWith(`${id}.`) && f.endsWith('.msg'))).toBe(true);
  });
});
