// Remote syslog end to end: the appliance's own log lines (received, delivered, …) reach a real
// collector — a node:net listener (RFC 6587 octet counting over TCP) and a node:tls one (RFC 5425,
// TLS 1.2+, certificate verified against syslog.tls.ca) — and are parsed back field by field from the
// RFC 5424 ABNF. A collector that is down at start gets the lines once it is up; one that hangs never
// holds up intake or delivery (oldest lines dropped, counted, reported in one line).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../appliance/src/config/load.ts';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { nextSequenceId, syslogFrame } from '../../../appliance/src/ops/syslog/rfc5424.ts';
import { SyslogSender } from '../../../appliance/src/ops/syslog/sender.ts';
import { applianceSandbox, baseConfigInput, captured, sendMail, waitFor } from '../../helpers/appliance.ts';
import { startChild, writeConfig } from '../../helpers/child-appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { createTestPki } from '../../helpers/pki.ts';
import { freePort } from '../../helpers/ports.ts';
import { parseSyslog, type SyslogCollector, startCollector } from '../../helpers/syslog-collector.ts';

const sandbox = applianceSandbox('relaykit-syslog-');
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await sandbox.stop();
  for (const c of closers.splice(0).reverse()) await c();
});

const FAST = { reconnectMinMs: 50, reconnectMaxMs: 200, stallMs: 300, connectMs: 300 };

/** A sender for `syslog` keys as an operator writes them (parsed by the one config schema). */
function sender(syslog: NonNullable<ConfigInput['syslog']>, timing = FAST): SyslogSender {
  const config = parseConfig(
    {
      listeners: [{ name: 'l', address: '127.0.0.1', port: 0, auth: false }],
      identities: [{ name: 'lo', networks: ['127.0.0.0/8'] }],
      routes: [{ name: 'local', type: 'capture', directory: '/tmp' }],
      defaultRoute: 'local',
      syslog,
    },
    'test',
    sandbox.dir,
  );
  const s = new SyslogSender({
    config: config.syslog as NonNullable<typeof config.syslog>,
    hostname: 'relay.contoso.test',
    version: '9.8.7',
    timing,
  });
  closers.push(() => s.close(0));
  return s;
}

async function collector(opts: Parameters<typeof startCollector>[0] = {}): Promise<SyslogCollector> {
  const c = await startCollector(opts);
  closers.push(() => c.close());
  return c;
}

describe('RFC 5424 frame', () => {
  it('HEADER, STRUCTURED-DATA and MSG, octet counted, parse back field by field', () => {
    const line =
      '{"level":"warn","time":"2026-03-01T08:09:10.123Z","event":"dead-lettered","id":"x","reason":"a \\"b\\" ] c"}\n';
    const frame = syslogFrame(
      line,
      {
        facility: 16,
        hostname: 'relay.contoso.test',
        appName: 'relaykit',
        procId: '4242',
        software: 'relaykit',
        swVersion: '1.2.3',
      },
      7,
      0,
    );
    const text = frame.toString('utf8');
    const sp = text.indexOf(' ');
    const body = frame.subarray(sp + 1);
    expect(Number(text.slice(0, sp))).toBe(body.length);
    const m = parseSyslog(body, body.length);
    // local0 (16) × 8 + warning (4) = 132 (RFC 5424 §6.2.1)
    expect(m).toMatchObject({
      pri: 132,
      version: '1',
      timestamp: '2026-03-01T08:09:10.123Z',
      hostname: 'relay.contoso.test',
      appName: 'relaykit',
      procId: '4242',
      msgId: 'dead-lettered',
      sd: { meta: { sequenceId: '7' }, origin: { software: 'relaykit', swVersion: '1.2.3' } },
      hadBom: true,
    });
    expect(m.msg).toBe(line.trimEnd());
    expect(text).toMatch(
      /^\d+ <132>1 2026-03-01T08:09:10\.123Z relay\.contoso\.test relaykit 4242 dead-lettered \[meta sequenceId="7"\]\[origin software="relaykit" swVersion="1\.2\.3"\] \uFEFF\{/,
    );
  });

  it('severities per RFC 5424 §6.2.1; no event → NILVALUE MSGID; sequenceId wraps to 1', () => {
    const h = { facility: 1, hostname: 'h', appName: 'a', procId: '1', software: 's', swVersion: 'v' };
    const pri = (level: string) => {
      const f = syslogFrame(`{"level":"${level}","msg":"x"}`, h, 1, 0);
      const body = f.subarray(f.indexOf(0x20) + 1);
      return parseSyslog(body, body.length);
    };
    // user (1) × 8 + severity
    expect(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => pri(l).pri)).toEqual([
      10, 11, 12, 14, 15, 15,
    ]);
    expect(pri('info').msgId).toBe('-');
    expect(nextSequenceId(2_147_483_647)).toBe(1);
    expect(nextSequenceId(1)).toBe(2);
  });
});

describe('remote syslog from a running appliance', () => {
  it('TCP: received and delivered lines arrive as RFC 5424, the same JSON as stdout, secrets redacted', async () => {
    const c = await collector();
    const s = sender({ host: '127.0.0.1', port: c.port, transport: 'tcp', appName: 'relaykit-site1' });
    const log = captureLog('info', s);
    s.attach(log.logger);
    const t = await sandbox.start((x) => ({ ...x, appliance: { hostname: 'relay.contoso.test' } }), {
      logger: log.logger,
      syslog: s,
    });
    await sendMail(t.port, { from: 'scanner@contoso.test', to: 'alice@contoso.test', subject: 'via syslog' });
    log.logger.info({ password: 'hunter2', clientSecret: 'abc~123' }, 'a line with secrets');
    await waitFor(() => (c.lines().some((l) => l.msg === 'a line with secrets') ? true : undefined));
    await waitFor(() => (c.messages.some((m) => m.msgId === 'delivered') ? true : undefined));
    expect(c.errors).toEqual([]);
    const received = c.messages.find((m) => m.msgId === 'received');
    const delivered = c.messages.find((m) => m.msgId === 'delivered');
    expect(received).toBeDefined();
    expect(delivered).toBeDefined();
    for (const m of [received, delivered]) {
      expect(m).toMatchObject({
        pri: 16 * 8 + 6,
        version: '1',
        hostname: 'relay.contoso.test',
        appName: 'relaykit-site1',
        procId: String(process.pid),
        hadBom: true,
      });
      expect(m?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}Z$/);
      expect(m?.sd.origin).toEqual({ software: 'relaykit', swVersion: '9.8.7' });
      // The very line the log printed.
      expect(log.text().split('\n')).toContain(m?.msg);
    }
    expect(JSON.parse(received?.msg ?? '{}')).toMatchObject({
      event: 'received',
      from: 'scanner@contoso.test',
    });
    // sequenceId counts every line sent, from 1, without gaps.
    expect(c.messages.map((m) => Number(m.sd.meta?.sequenceId))).toEqual(c.messages.map((_, i) => i + 1));
    const secretLine = c.lines().find((l) => l.msg === 'a line with secrets');
    expect(secretLine).toMatchObject({ password: '[redacted]', clientSecret: '[redacted]' });
    expect(c.messages.map((m) => m.msg).join('\n')).not.toMatch(/hunter2|abc~123/);
    expect(await t.app.metrics.render()).toMatch(/^relaykit_syslog_connected 1$/m);
  });

  it('TLS (RFC 5425): TLS 1.2 or later, the collector verified against syslog.tls.ca', async () => {
    const pki = createTestPki();
    const c = await collector({ tls: { cert: pki.server.cert, key: pki.server.key } });
    const s = sender({ host: '127.0.0.1', port: c.port, transport: 'tls', tls: { ca: pki.caPath } });
    const log = captureLog('info', s);
    s.attach(log.logger);
    for (let i = 0; i < 3; i++) log.logger.info({ event: 'test', i }, `line ${i}`);
    await waitFor(() => (c.messages.length === 3 ? true : undefined), 10_000, 'three lines over TLS');
    expect(c.errors).toEqual([]);
    expect(c.messages.map((m) => m.msgId)).toEqual(['test', 'test', 'test']);
    expect(c.lines().map((l) => l.i)).toEqual([0, 1, 2]);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(c.messages[0]?.tlsProtocol);
  });

  it('TLS: a collector whose certificate does not verify gets nothing, and the log says why', async () => {
    const pki = createTestPki();
    for (const pair of [pki.wrongName, pki.selfSigned]) {
      const c = await collector({ tls: { cert: pair.cert, key: pair.key } });
      const s = sender({ host: '127.0.0.1', port: c.port, transport: 'tls', tls: { ca: pki.caPath } });
      const log = captureLog('info', s);
      s.attach(log.logger);
      log.logger.info({ event: 'test' }, 'must not leave');
      const refused = await waitFor(() => log.lines().find((l) => l.event === 'syslog-unreachable'));
      expect(String(refused.reason)).toMatch(/certificate|altnames|self.signed|IP/i);
      await waitFor(() => (c.connections >= 2 ? true : undefined), 10_000, 'a retry');
      expect(c.messages).toEqual([]);
      expect(log.lines().filter((l) => l.event === 'syslog-unreachable')).toHaveLength(1);
    }
  });

  it('a collector down at start gets every line once it is up, in order', async () => {
    const port = await freePort();
    const s = sender({ host: '127.0.0.1', port, transport: 'tcp' });
    const log = captureLog('info', s);
    s.attach(log.logger);
    for (let i = 0; i < 20; i++) log.logger.info({ event: 'early', i }, 'before the collector');
    await waitFor(() => log.lines().find((l) => l.event === 'syslog-unreachable'));
    expect(s.stats()).toMatchObject({ connected: false, queued: 21, dropped: 0 });
    const c = await collector({ port });
    await waitFor(() => (c.lines().some((l) => l.event === 'syslog-connected') ? true : undefined));
    const early = c.lines().filter((l) => l.event === 'early');
    expect(early.map((l) => l.i)).toEqual([...Array(20).keys()]);
    expect(c.lines()[20]).toMatchObject({ event: 'syslog-unreachable', level: 'warn' });
    expect(c.lines().some((l) => l.event === 'syslog-dropped')).toBe(false);
  });

  it('a hung collector never holds up intake or delivery; the oldest lines are dropped, counted and reported once', async () => {
    const pki = createTestPki();
    // Accepts the TCP connection and never answers the TLS handshake.
    const hung = await collector({ hang: true });
    const s = sender({
      host: '127.0.0.1',
      port: hung.port,
      transport: 'tls',
      tls: { ca: pki.caPath },
      bufferLines: 10,
    });
    const log = captureLog('info', s);
    s.attach(log.logger);
    const t = await sandbox.start((x) => x, { logger: log.logger, syslog: s });
    for (let i = 0; i < 5; i++) await sendMail(t.port, { subject: `while hung ${i}` });
    await waitFor(async () =>
      (await captured(join(sandbox.dir, 'outbox'))).length === 5 ? true : undefined,
    );
    await waitFor(
      () => (hung.connections >= 2 ? true : undefined),
      10_000,
      'redialled after the connect timeout',
    );
    const stats = s.stats();
    expect(stats.connected).toBe(false);
    expect(stats.queued).toBe(10);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(await t.app.metrics.render()).toMatch(
      new RegExp(`^relaykit_syslog_dropped_total ${stats.dropped}$`, 'm'),
    );
    // The collector comes back (a good one on the same port): the buffered lines and one count line.
    await hung.close();
    const c = await collector({ port: hung.port, tls: { cert: pki.server.cert, key: pki.server.key } });
    const report = await waitFor(
      () => c.lines().find((l) => l.event === 'syslog-dropped'),
      10_000,
      'drop report',
    );
    expect(report.dropped).toBe(s.stats().dropped);
    expect(log.lines().filter((l) => l.event === 'syslog-dropped')).toHaveLength(1);
  });

  it('a collector that stops reading: write() stays instant, the buffer stays bounded, the stall is cut', async () => {
    const c = await collector({ hang: true });
    const s = sender({ host: '127.0.0.1', port: c.port, transport: 'tcp', bufferLines: 100 });
    const log = captureLog('info', s);
    s.attach(log.logger);
    await waitFor(() => (s.stats().connected ? true : undefined));
    const big = 'x'.repeat(8000);
    // ~40 MB: far more than the loopback socket buffers take (tcp_rmem + tcp_wmem maxima, ~10 MB).
    for (let i = 0; i < 5000; i++) log.logger.info({ event: 'bulk', i, big }, 'bulk');
    expect(s.stats().queued).toBeLessThanOrEqual(100);
    expect(s.stats().dropped).toBeGreaterThan(0);
    await waitFor(() => log.lines().find((l) => l.event === 'syslog-unreachable'), 10_000, 'stall cut');
    expect(String(log.lines().find((l) => l.event === 'syslog-unreachable')?.reason)).toMatch(/took nothing/);
  });
});

describe('relaykit-appliance run with syslog: keys', () => {
  it("forwards the real process's lines over TLS, the last ones (drained, stopped) included", async () => {
    const pki = createTestPki();
    const c = await collector({ tls: { cert: pki.server.cert, key: pki.server.key } });
    const configPath = await writeConfig(sandbox.dir, {
      ...baseConfigInput(sandbox.dir),
      appliance: { hostname: 'relay.contoso.test' },
      http: { enabled: false },
      log: { level: 'info' },
      syslog: { host: '127.0.0.1', port: c.port, tls: { ca: pki.caPath } },
    });
    const child = await startChild(configPath);
    closers.push(() => {
      child.proc.kill('SIGKILL');
    });
    await sendMail(child.port, { subject: 'from a child' });
    await waitFor(
      () => (c.messages.some((m) => m.msgId === 'delivered') ? true : undefined),
      15_000,
      'delivered',
    );
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const msgs = c.lines().map((l) => l.msg);
    expect(msgs).toContain('appliance started');
    expect(msgs.at(-1)).toBe('stopped');
    expect(
      c.messages.every((m) => m.hostname === 'relay.contoso.test' && m.procId === String(child.proc.pid)),
    ).toBe(true);
  });
});

describe('syslog.tls.ca', () => {
  it('an unreadable CA file refuses to build the sender, naming the key', () => {
    const bad = join(sandbox.dir, 'nope.pem');
    expect(() => sender({ host: '127.0.0.1', port: 1, transport: 'tls', tls: { ca: bad } })).toThrow(
      /syslog\.tls\.ca/,
    );
    writeFileSync(join(sandbox.dir, 'ok.pem'), createTestPki().caCert);
    expect(() =>
      sender({ host: '127.0.0.1', port: 1, transport: 'tls', tls: { ca: join(sandbox.dir, 'ok.pem') } }),
    ).not.toThrow();
  });
});
