// The image's readiness probe for keepalived (vm/overlay/usr/local/lib/relaykit/readyz-probe): exit
// 0 only when GET /readyz answers 200; a 503, a closed port or a bad call is a failure.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/child-appliance.ts';
import { freePort } from '../../helpers/ports.ts';

const PROBE = join(ROOT, 'appliance/image/vm/overlay/usr/local/lib/relaykit/readyz-probe');

function probe(args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(PROBE, args, { stdio: 'ignore' }).once('exit', resolve));
}

describe('readyz-probe', () => {
  let server: Server | undefined;
  const paths: string[] = [];
  afterEach(() => server?.close());

  async function serve(status: number): Promise<number> {
    server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url} ${req.headers.host}`);
      res.writeHead(req.url === '/readyz' ? status : 404).end('{}');
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  it('passes on 200 from GET /readyz', async () => {
    const port = await serve(200);
    expect(await probe(['127.0.0.1', String(port)])).toBe(0);
    expect(paths).toEqual(['GET /readyz localhost']);
  });

  it('fails on 503, on a closed port and without its two arguments', async () => {
    const port = await serve(503);
    expect(await probe(['127.0.0.1', String(port)])).toBe(1);
    expect(await probe(['127.0.0.1', String(await freePort())])).toBe(1);
    expect(await probe(['127.0.0.1'])).toBe(2);
  });
});
