// `relaykit-appliance test-route`: one real test message through one route, reporting each step —
// against the Entra + Graph simulators (token, request, then the wrong secret that Entra refuses) and a
// scripted smarthost (accepts, then refuses with 451). Run in-process as an operator would type it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { main } from '../../../appliance/src/main.ts';
import { type RefusingSmarthost, refusingSmarthost, viaSmarthost } from '../../helpers/admin-http.ts';
import { baseConfigInput, removeDir, tempDir } from '../../helpers/appliance.ts';
import { captureIo } from '../../helpers/io.ts';
import { CLIENT, type Harness, startHarness, TENANT } from '../../helpers/sim/graph-harness.ts';
import { testPki } from '../../helpers/sim/pki.ts';

let h: Harness;
let smarthost: RefusingSmarthost;
let dir: string;

beforeAll(async () => {
  h = await startHarness({ mailboxes: [{ address: 'scanner@contoso.com' }] });
  smarthost = await refusingSmarthost();
  dir = await tempDir('relaykit-test-route-');
  await writeFile(join(dir, 'good-secret.txt'), 'relay-secret-1\n');
  await writeFile(join(dir, 'bad-secret.txt'), 'not-the-secret\n');
});

afterAll(async () => {
  await smarthost?.close();
  await h?.close();
  if (dir) await removeDir(dir);
});

async function configFile(): Promise<string> {
  const graph = (name: string, secret: string) => ({
    name,
    type: 'graph' as const,
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: secret,
    mailbox: 'scanner@contoso.com',
    requestTimeout: '5s',
  });
  const input: ConfigInput = viaSmarthost(smarthost.sink.port, (c) => ({
    ...c,
    routes: [...c.routes, graph('m365', 'good'), graph('m365-bad-secret', 'bad')],
    credentials: { good: { file: join(dir, 'good-secret.txt') }, bad: { file: join(dir, 'bad-secret.txt') } },
    cloud: {
      authorityHost: h.entra.url,
      graphBaseUrl: h.graph.baseUrl,
      caFile: testPki().caFile,
      requestTimeout: '5s',
    },
  }))(baseConfigInput(dir));
  const path = join(dir, 'config.yaml');
  await writeFile(path, JSON.stringify(input));
  return path;
}

describe('relaykit-appliance test-route', () => {
  it('through Graph: token, request and the message in the mailbox; JSON lists each step', async () => {
    const config = await configFile();
    const io = captureIo();
    const code = await main(
      ['test-route', '--config', config, '--route', 'm365', '--to', 'tech@contoso.com', '--json'],
      io,
    );
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(io.out()) as {
      ok: boolean;
      from: string;
      steps: { step: string; ok: boolean }[];
    };
    expect(report.ok).toBe(true);
    expect(report.from).toBe('scanner@contoso.com');
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
      ['token', true],
      ['request', true],
      ['remote id', true],
    ]);
    const sent = h.graph.delivered.at(-1);
    expect(sent?.mailbox).toBe('scanner@contoso.com');
  });

  it('a secret Entra refuses fails at the token step with the fix, and nothing is sent', async () => {
    const config = await configFile();
    const before = h.graph.delivered.length;
    const io = captureIo();
    const code = await main(
      ['test-route', '--config', config, '--route', 'm365-bad-secret', '--to', 'tech@contoso.com'],
      io,
    );
    expect(code).toBe(1);
    const lines = io.err().trim().split('\n');
    expect(lines[0]).toBe(
      'test message through route m365-bad-secret (graph) from <scanner@contoso.com> to <tech@contoso.com>',
    );
    expect(lines[1]).toMatch(
      /^ {2}FAIL token: Graph token for app aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee in 11111111-2222-3333-4444-555555555555: .*AADSTS7000215/,
    );
    expect(lines[2]).toMatch(
      /^ {7}fix: Entra refused or could not be reached: check tenant id, client id and the client secret/,
    );
    expect(lines.at(-1)).toBe('failed: see the step above');
    expect(h.graph.delivered.length).toBe(before);
  });

  it('through a smarthost: the delivered test message, then a 451 refusal reported at the request step', async () => {
    const config = await configFile();
    smarthost.refusing = false;
    const ok = captureIo();
    expect(
      await main(['test-route', '--config', config, '--route', 'smarthost', '--to', 'tech@example.com'], ok),
    ).toBe(0);
    expect(ok.out()).toContain('  ok   token: the smarthost needs no credential');
    expect(ok.out()).toMatch(/ {2}ok {3}request: /);
    const msg = await simpleParser(smarthost.sink.messages.at(-1)?.raw ?? Buffer.alloc(0));
    expect(msg.subject).toBe('relaykit test through route smarthost');
    expect(smarthost.sink.messages.at(-1)?.rcptTo).toEqual(['tech@example.com']);
    smarthost.refusing = true;
    const bad = captureIo();
    expect(
      await main(['test-route', '--config', config, '--route', 'smarthost', '--to', 'tech@example.com'], bad),
    ).toBe(1);
    expect(bad.err()).toMatch(/ {2}FAIL request: .*451.*try again later \(test smarthost\)/);
  });

  it('usage errors exit 2: no route, unknown route, bad address', async () => {
    const config = await configFile();
    for (const argv of [
      ['test-route', '--config', config, '--to', 'a@b.c'],
      ['test-route', '--config', config, '--route', 'nope', '--to', 'a@b.c'],
      ['test-route', '--config', config, '--route', 'smarthost', '--to', 'not-an-address'],
    ]) {
      const io = captureIo();
      expect(await main(argv, io), argv.join(' ')).toBe(2);
    }
  });
});
