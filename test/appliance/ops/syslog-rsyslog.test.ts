// The remote syslog sender against a real receiver: Debian's rsyslogd (imtcp: RFC 6587 octet
// counting, RFC 5424 parser; the gtls stream driver for RFC 5425) run by the test on loopback with its
// own config, writing each message's parsed fields to a file. What rsyslog parsed is what a site's
// collector would see. Needs rsyslog + rsyslog-gnutls (.ci/install/80-syslog.sh).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../appliance/src/config/load.ts';
import { SyslogSender } from '../../../appliance/src/ops/syslog/sender.ts';
import { tempDir, waitFor } from '../../helpers/appliance.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { createTestPki } from '../../helpers/pki.ts';
import { freePort } from '../../helpers/ports.ts';
import { requireTool } from '../../helpers/tools.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const FIELDS = [
  'pri',
  'version',
  'timestamp',
  'hostname',
  'appName',
  'procId',
  'msgId',
  'sd',
  'msg',
] as const;

/** Starts rsyslogd -n on 127.0.0.1:port; every message goes to `out`, one tab-separated line. */
async function rsyslog(bin: string, tls: { ca: string; cert: string; key: string } | undefined) {
  const dir = await tempDir('relaykit-rsyslog-');
  const port = await freePort();
  const out = join(dir, 'messages.tsv');
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(
    conf,
    [
      `global(workDirectory="${dir}"${tls ? ` defaultNetstreamDriverCAFile="${tls.ca}" defaultNetstreamDriverCertFile="${tls.cert}" defaultNetstreamDriverKeyFile="${tls.key}"` : ''})`,
      tls
        ? 'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")'
        : 'module(load="imtcp")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="fields" type="string" string="%pri%\\t%protocol-version%\\t%timereported:::date-rfc3339%\\t%hostname%\\t%app-name%\\t%procid%\\t%msgid%\\t%structured-data%\\t%msg%\\n")',
      `action(type="omfile" file="${out}" template="fields")`,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(bin, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  );
  await waitFor(
    () =>
      new Promise<boolean | undefined>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(undefined));
      }),
    15_000,
    `rsyslogd listening (${log})`,
  );
  return {
    port,
    async messages(): Promise<Record<(typeof FIELDS)[number], string>[]> {
      const text = await readFile(out, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map(
          (l) =>
            Object.fromEntries(l.split('\t').map((v, i) => [FIELDS[i], v])) as Record<
              (typeof FIELDS)[number],
              string
            >,
        );
    },
  };
}

function sender(syslog: Record<string, unknown>): SyslogSender {
  const config = parseConfig(
    {
      listeners: [{ name: 'l', address: '127.0.0.1', port: 0, auth: false }],
      identities: [{ name: 'lo', networks: ['127.0.0.0/8'] }],
      routes: [{ name: 'local', type: 'capture', directory: '/tmp' }],
      defaultRoute: 'local',
      syslog: syslog as never,
    },
    'test',
    '/',
  );
  const s = new SyslogSender({
    config: config.syslog as NonNullable<typeof config.syslog>,
    hostname: 'relay.contoso.test',
    version: '9.8.7',
  });
  closers.push(() => s.close(2000));
  return s;
}

describe('remote syslog received by rsyslogd', () => {
  for (const transport of ['tcp', 'tls'] as const) {
    it(`${transport}: rsyslog parses PRI, HEADER, STRUCTURED-DATA and the JSON MSG of each line`, async (ctx) => {
      const bin = requireTool(ctx, 'rsyslogd');
      const pki = createTestPki();
      const r = await rsyslog(
        bin,
        transport === 'tls'
          ? { ca: pki.caPath, cert: pki.server.certPath, key: pki.server.keyPath }
          : undefined,
      );
      const s = sender({
        host: '127.0.0.1',
        port: r.port,
        transport,
        ...(transport === 'tls' ? { tls: { ca: pki.caPath } } : {}),
        facility: 16,
        appName: 'relaykit-site1',
      });
      const log = captureLog('info', s);
      s.attach(log.logger);
      log.logger.info({ event: 'delivered', id: 'abc', route: 'm365' }, 'mail delivered');
      log.logger.warn(
        { event: 'dead-lettered', id: 'def', reason: 'a "quoted" ] reason' },
        'mail dead-lettered',
      );
      const got = await waitFor(
        async () => {
          const m = await r.messages();
          return m.length >= 2 ? m : undefined;
        },
        15_000,
        'two messages in rsyslog',
      );
      expect(got.map((m) => [m.pri, m.version, m.hostname, m.appName, m.procId, m.msgId])).toEqual([
        ['134', '1', 'relay.contoso.test', 'relaykit-site1', String(process.pid), 'delivered'],
        ['132', '1', 'relay.contoso.test', 'relaykit-site1', String(process.pid), 'dead-lettered'],
      ]);
      expect(got[0]?.sd).toBe('[meta sequenceId="1"][origin software="relaykit" swVersion="9.8.7"]');
      expect(got[1]?.sd).toBe('[meta sequenceId="2"][origin software="relaykit" swVersion="9.8.7"]');
      const printed = log.lines();
      for (const [i, m] of got.entries()) {
        // rsyslog keeps the BOM in %msg%; what follows is the JSON line the log printed.
        const json = JSON.parse(m.msg.replace(/^\uFEFF/, '')) as Record<string, unknown>;
        expect(json).toEqual(printed[i]);
        expect(Date.parse(m.timestamp)).toBe(Date.parse(String(printed[i]?.time)));
      }
    }, 30_000);
  }
});
