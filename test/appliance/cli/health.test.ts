import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { healthUrl } from '../../../appliance/src/cli/health.ts';
import { main } from '../../../appliance/src/main.ts';
import { applianceSandbox, baseConfigInput, startTestAppliance } from '../../helpers/appliance.ts';
import { captureIo } from '../../helpers/io.ts';

const sandbox = applianceSandbox();
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A status server stand-in that answers every path with `status` and records what was asked. */
async function statusServer(status: number): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status).end('{}');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, paths };
}

async function configWithHttp(http: Record<string, unknown>): Promise<string> {
  const path = join(sandbox.dir, 'health.yaml');
  await writeFile(path, stringify({ ...baseConfigInput(sandbox.dir), http }));
  return path;
}

describe('relaykit-appliance health', () => {
  it('asks the status port the config names and exits 0 on 200', async () => {
    const s = await statusServer(200);
    const io = captureIo();
    const code = await main(['health', '--config', await configWithHttp({ port: s.port })], io);
    expect(code).toBe(0);
    expect(s.paths).toEqual(['/healthz']);
    expect(io.out()).toBe(`health: http://127.0.0.1:${s.port}/healthz answered 200\n`);
  });

  it('exits 1 on 503, and when nothing listens, saying so', async () => {
    const s = await statusServer(503);
    const io = captureIo();
    expect(await main(['health', '--config', await configWithHttp({ port: s.port })], io)).toBe(1);
    expect(io.err()).toContain('answered 503');
    const port = s.port;
    await new Promise((r) => servers.pop()?.close(r));
    const io2 = captureIo();
    expect(await main(['health', '--config', await configWithHttp({ port })], io2)).toBe(1);
    expect(io2.err()).toContain(`http://127.0.0.1:${port}/healthz did not answer (ECONNREFUSED)`);
  });

  it('reads RELAYKIT_CONFIG and takes another endpoint', async () => {
    const s = await statusServer(200);
    const path = await configWithHttp({ port: s.port });
    const before = process.env.RELAYKIT_CONFIG;
    process.env.RELAYKIT_CONFIG = path;
    try {
      expect(await main(['health', '--endpoint', '/readyz'], captureIo())).toBe(0);
    } finally {
      if (before === undefined) delete process.env.RELAYKIT_CONFIG;
      else process.env.RELAYKIT_CONFIG = before;
    }
    expect(s.paths).toEqual(['/readyz']);
  });

  it('refuses when the status server is disabled', async () => {
    const io = captureIo();
    expect(await main(['health', '--config', await configWithHttp({ enabled: false })], io)).toBe(1);
    expect(io.err()).toBe('health: http.enabled is false, so there is no status server to ask\n');
  });

  it('passes against a running appliance', async () => {
    const t = await startTestAppliance(sandbox.dir);
    try {
      const path = await configWithHttp({ port: t.app.httpPort });
      expect(await main(['health', '--config', path], captureIo())).toBe(0);
    } finally {
      await t.stop();
    }
  });
});

describe('healthUrl', () => {
  it('asks loopback when the status server listens on every address', () => {
    expect(healthUrl({ enabled: true, address: '0.0.0.0', port: 8025 }, '/healthz')).toBe(
      'http://127.0.0.1:8025/healthz',
    );
    expect(healthUrl({ enabled: true, address: '::', port: 9000 }, 'readyz')).toBe(
      'http://[::1]:9000/readyz',
    );
    expect(healthUrl({ enabled: true, address: '10.1.2.3', port: 80 }, '/healthz')).toBe(
      'http://10.1.2.3:80/healthz',
    );
  });
});
