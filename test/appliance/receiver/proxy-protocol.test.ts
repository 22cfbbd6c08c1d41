// PROXY protocol v1/v2 on a listener (issue 19): the parser against the examples of haproxy.org
// proxy-protocol.txt, and the appliance over raw sockets: a trusted balancer (127.0.0.2) carries the
// real client address, which the allowlist then decides on; a trusted source without a header and an
// untrusted source with one are refused with 421 4.7.0 and a log line naming the key.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../../appliance/src/receiver/proxy-header.ts';
import { applianceSandbox, captured, waitFor } from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header built by hand from the spec's byte layout (§2.2), not by code under test. */
function v2(cmd: 'PROXY' | 'LOCAL', src?: [number, number, number, number], sport = 51514): Buffer {
  const head = Buffer.from([cmd === 'PROXY' ? 0x21 : 0x20, src ? 0x11 : 0x00, 0, src ? 12 : 0]);
  const block = src ? Buffer.from([...src, 127, 0, 0, 1, sport >> 8, sport & 255, 0, 25]) : Buffer.alloc(0);
  return Buffer.concat([SIG, head, block]);
}

describe('PROXY header parser', () => {
  it('reads the v1 example line and leaves what follows it', () => {
    const buf = Buffer.from('PROXY TCP4 198.51.100.7 192.0.2.10 51514 25\r\nEHLO x\r\n');
    expect(parseProxyHeader(buf)).toEqual({
      kind: 'ok',
      version: 1,
      source: { address: '198.51.100.7', port: 51514 },
      length: 45,
    });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n'))).toMatchObject({
      source: { address: '2001:db8::1', port: 1 },
    });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({
      kind: 'ok',
      version: 1,
      length: 15,
    });
  });

  it('waits for more bytes, and refuses bad or foreign first bytes', () => {
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2'))).toEqual({ kind: 'incomplete' });
    expect(parseProxyHeader(SIG.subarray(0, 7))).toEqual({ kind: 'incomplete' });
    expect(parseProxyHeader(Buffer.from('EHLO printer\r\n'))).toMatchObject({ kind: 'invalid' });
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 evil.example 192.0.2.10 1 25\r\n'))).toMatchObject({
      kind: 'invalid',
      reason: 'v1 header addresses are not TCP4 addresses',
    });
    expect(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`))).toMatchObject({ kind: 'invalid' });
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 70000 25\r\n'))).toMatchObject({
      kind: 'invalid',
    });
  });

  it('reads v2 PROXY over IPv4 and v2 LOCAL', () => {
    expect(parseProxyHeader(v2('PROXY', [192, 0, 2, 10]))).toEqual({
      kind: 'ok',
      version: 2,
      source: { address: '192.0.2.10', port: 51514 },
      length: 28,
    });
    expect(parseProxyHeader(v2('LOCAL'))).toEqual({ kind: 'ok', version: 2, length: 16 });
    const bad = v2('PROXY', [192, 0, 2, 10]);
    bad[12] = 0x11; // version 1 in a v2 preamble
    expect(parseProxyHeader(bad)).toMatchObject({ kind: 'invalid', reason: 'v2 header version 1 is not 2' });
  });
});

describe('PROXY protocol on a listener', () => {
  const box = applianceSandbox('relaykit-proxy-');
  const start = (log = captureLog()) =>
    box
      .start(
        (c) => ({
          ...c,
          listeners: [
            {
              name: 'lb',
              address: '127.0.0.1',
              port: 0,
              auth: false,
              proxyProtocol: { trustedSources: ['127.0.0.2/32'] },
            },
          ],
          // Only the real client 192.0.2.10 and direct connections from 127.0.0.1 may send.
          identities: [
            { name: 'printer', networks: ['192.0.2.10/32'] },
            { name: 'direct', networks: ['127.0.0.1/32'] },
          ],
        }),
        { logger: log.logger },
      )
      .then((a) => ({ a, log }));

  async function send(s: RawSmtp, from = 'scan@contoso.com'): Promise<number[]> {
    const codes = [(await s.reply()).code];
    for (const c of ['EHLO lb-test', `MAIL FROM:<${from}>`, 'RCPT TO:<boss@contoso.com>'])
      codes.push((await s.command(c)).code);
    return codes;
  }

  it('v1 from the trusted balancer: the carried address is the identity and the Received source', async () => {
    const { a } = await start();
    const s = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.2');
    s.write('PROXY TCP4 192.0.2.10 127.0.0.1 51514 25\r\n');
    expect(await send(s)).toEqual([220, 250, 250, 250]);
    expect((await s.command('DATA')).code).toBe(354);
    expect((await s.command('Subject: via v1\r\n\r\nhello\r\n.')).code).toBe(250);
    s.close();
    const [msg] = await waitFor(async () => {
      const m = await captured(join(a.dir, 'outbox'));
      return m.length === 1 ? m : undefined;
    });
    expect(msg?.text).toContain('([192.0.2.10])');
  });

  it('v2 from the trusted balancer; a carried address outside the allowlist is not let in', async () => {
    const { a } = await start();
    const ok = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.2');
    ok.write(v2('PROXY', [192, 0, 2, 10]));
    expect(await send(ok)).toEqual([220, 250, 250, 250]);
    ok.close();
    const other = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.2');
    other.write(v2('PROXY', [198, 51, 100, 7]));
    expect((await other.reply()).text).toBe('554 5.7.1 Access denied for [198.51.100.7]\r\n');
    other.close();
  });

  it('refuses a trusted source without a header and an untrusted source with one, and logs both', async () => {
    const { a, log } = await start();
    const bare = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.2');
    const r1 = await bare.command('EHLO printer');
    expect(r1.text).toBe('421 4.7.0 PROXY protocol header refused, closing connection\r\n');
    expect(await bare.waitClosed()).toBe(true);

    for (const header of [
      Buffer.from('PROXY TCP4 192.0.2.10 127.0.0.1 1 25\r\n'),
      v2('PROXY', [192, 0, 2, 10]),
    ]) {
      const spoof = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.1');
      expect((await spoof.reply()).code).toBe(220);
      spoof.write(header);
      expect((await spoof.reply()).text).toBe(
        '421 4.7.0 PROXY protocol header refused, closing connection\r\n',
      );
      expect(await spoof.waitClosed()).toBe(true);
    }
    const refused = log.lines().filter((l) => l.code === 'RELAY_PROXY_REFUSED');
    expect(refused.map((l) => [l.ip, l.rule, l.reason])).toEqual([
      [
        '127.0.0.2',
        'listeners.lb.proxyProtocol',
        'no PROXY header (the first bytes are not "PROXY " nor the v2 signature)',
      ],
      [
        '127.0.0.1',
        'listeners.lb.proxyProtocol',
        'PROXY header from a source not in proxyProtocol.trustedSources',
      ],
      [
        '127.0.0.1',
        'listeners.lb.proxyProtocol',
        'PROXY header from a source not in proxyProtocol.trustedSources',
      ],
    ]);
    // The direct client from 127.0.0.1 without a header is served as before.
    const direct = await RawSmtp.connect(a.port, '127.0.0.1', '127.0.0.1');
    expect(await send(direct)).toEqual([220, 250, 250, 250]);
    direct.close();
  });
});
