import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../appliance/src/log.ts';
import { applianceSandbox, sendMail, type TestAppliance, waitFor } from '../../helpers/appliance.ts';
import { parseExposition, sampleValue } from '../../helpers/prometheus-text.ts';
import { RawSmtp } from '../../helpers/smtp-raw.ts';

const sandbox = applianceSandbox();

// The metric families of appliance/docs/operations.md ("Metrics"): name, type, label names.
const DOCUMENTED_FAMILIES: Record<string, { type: string; labels: string[] }> = {
  relaykit_build_info: { type: 'gauge', labels: ['version'] },
  relaykit_accepted_total: { type: 'counter', labels: ['listener'] },
  relaykit_rejected_total: { type: 'counter', labels: ['reason'] },
  relaykit_delivered_total: { type: 'counter', labels: ['route'] },
  relaykit_deferred_total: { type: 'counter', labels: ['route'] },
  relaykit_dead_lettered_total: { type: 'counter', labels: ['route'] },
  relaykit_fallback_total: { type: 'counter', labels: ['from', 'to'] },
  relaykit_spool_depth: { type: 'gauge', labels: [] },
  relaykit_spool_oldest_age_seconds: { type: 'gauge', labels: [] },
  relaykit_dead_letter_depth: { type: 'gauge', labels: [] },
  relaykit_quarantined_total: { type: 'counter', labels: [] },
  relaykit_deliveries_in_flight: { type: 'gauge', labels: ['route'] },
  relaykit_spool_filesystem_size_bytes: { type: 'gauge', labels: [] },
  relaykit_spool_filesystem_avail_bytes: { type: 'gauge', labels: [] },
  relaykit_spool_folder_bytes: { type: 'gauge', labels: ['folder'] },
  relaykit_retention_removed_total: { type: 'counter', labels: ['folder'] },
  relaykit_syslog_connected: { type: 'gauge', labels: [] },
  relaykit_syslog_queued_lines: { type: 'gauge', labels: [] },
  relaykit_syslog_dropped_total: { type: 'counter', labels: [] },
};

async function get(t: TestAppliance, path: string) {
  const res = await fetch(`http://127.0.0.1:${t.app.httpPort}${path}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

describe('status endpoints', () => {
  it('/readyz is 200 when listeners are up and the spool is writable, 503 when the disk refuses writes; /healthz stays 200', async () => {
    let diskFull = false;
    const t = await sandbox.start(undefined, {
      spoolFaults: {
        beforeWrite() {
          if (diskFull) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
        },
      },
    });
    const ok = await get(t, '/readyz');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({
      ready: true,
      intake: { state: 'accepting' },
      disk: { writable: true },
    });
    diskFull = true;
    const bad = await get(t, '/readyz');
    expect(bad.status).toBe(503);
    expect(JSON.parse(bad.text)).toMatchObject({
      ready: false,
      intake: { state: 'refusing' },
      disk: { writable: false },
    });
    const live = await get(t, '/healthz');
    expect(live.status).toBe(200);
    expect(JSON.parse(live.text)).toMatchObject({ ok: true });
    expect((await t.app.health()).ok).toBe(false);
  });

  it('/metrics counts accepted, rejected by reason, delivered and dead-lettered per route, and spool depth', async () => {
    const t = await sandbox.start((c) => ({
      ...c,
      routes: [
        { name: 'local', type: 'capture', directory: `${sandbox.dir}/outbox` },
        { name: 'broken', type: 'capture', directory: '/dev/null/x' },
      ],
      // One recipient goes to a route that cannot write (ENOTDIR: permanent), so it is dead-lettered.
      rules: [
        { name: 'to-broken', match: { recipient: ['doomed@example.com'] }, action: { route: 'broken' } },
      ],
      listeners: [{ name: 'test', address: '127.0.0.1', port: 0, auth: false, maxMessageSize: '2KB' }],
    }));
    await sendMail(t.port, { subject: 'one' });
    await sendMail(t.port, { subject: 'doomed', to: 'doomed@example.com' });
    const c = await RawSmtp.connect(t.port);
    await c.reply();
    await c.command('EHLO x');
    expect((await c.command('MAIL FROM:<a@b.c> SIZE=999999')).code).toBe(552);
    c.close();
    await expect(sendMail(t.port, { subject: 'too big', text: 'x'.repeat(4000) })).rejects.toThrow(/552/);
    await waitFor(async () =>
      (await t.app.metrics.get('relaykit_delivered_total', { route: 'local' })) === 1 &&
      (await t.app.metrics.get('relaykit_dead_lettered_total', { route: 'broken' })) === 1
        ? true
        : undefined,
    );
    const m = await get(t, '/metrics');
    // prom-client's content type for the text format 0.0.4.
    expect(m.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const fams = parseExposition(m.text);
    expect(sampleValue(fams, 'relaykit_accepted_total', { listener: 'test' })).toBe(2);
    expect(sampleValue(fams, 'relaykit_delivered_total', { route: 'local' })).toBe(1);
    expect(sampleValue(fams, 'relaykit_dead_lettered_total', { route: 'broken' })).toBe(1);
    expect(sampleValue(fams, 'relaykit_dead_lettered_total', { route: 'local' })).toBeUndefined();
    expect(sampleValue(fams, 'relaykit_spool_depth')).toBe(0);
    expect(sampleValue(fams, 'relaykit_dead_letter_depth')).toBe(1);
    expect(sampleValue(fams, 'relaykit_rejected_total', { reason: 'RELAY_MESSAGE_TOO_LARGE' })).toBe(1);
    // Nothing deferred yet: a labelled counter still shows its family at zero.
    expect(fams.get('relaykit_deferred_total')?.samples).toEqual([{ labels: {}, value: 0 }]);
    expect(sampleValue(fams, 'relaykit_spool_filesystem_size_bytes')).toBeGreaterThan(0);
    expect(sampleValue(fams, 'relaykit_spool_folder_bytes', { folder: 'dead' })).toBeGreaterThan(0);
    // Exactly the families of appliance/docs/operations.md, each with its type, a help text and its
    // label names on every sample (a counter not counted yet shows one unlabelled 0).
    expect([...fams.keys()].sort()).toEqual(Object.keys(DOCUMENTED_FAMILIES).sort());
    for (const f of fams.values()) {
      const doc = DOCUMENTED_FAMILIES[f.name];
      expect(f.type, f.name).toBe(doc?.type);
      expect(f.help, f.name).not.toBe('');
      for (const sample of f.samples) {
        if (Object.keys(sample.labels).length === 0 && doc?.type === 'counter' && sample.value === 0)
          continue;
        expect(Object.keys(sample.labels).sort(), f.name).toEqual([...(doc?.labels ?? [])].sort());
      }
    }
    const status = JSON.parse((await get(t, '/status')).text) as {
      queue: { depth: number; deadLetters: number };
    };
    expect(status.queue.depth).toBe(0);
    expect(status.queue.deadLetters).toBe(1);
  });

  it('/healthz and /metrics carry the package.json version; the SMTP greeting and EHLO do not', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    const t = await sandbox.start();
    expect(JSON.parse((await get(t, '/healthz')).text)).toMatchObject({ version: pkg.version, ok: true });
    const metrics = (await get(t, '/metrics')).text;
    expect(metrics).toContain('# TYPE relaykit_build_info gauge');
    expect(metrics).toContain(`relaykit_build_info{version="${pkg.version}"} 1`);
    const c = await RawSmtp.connect(t.port);
    const greeting = await c.reply();
    const ehlo = await c.command('EHLO probe.example');
    c.close();
    expect(greeting.code).toBe(220);
    expect(greeting.text).toMatch(/ESMTP/);
    for (const text of [greeting.text, ehlo.text]) {
      expect(text).not.toContain(pkg.version);
      expect(text).not.toMatch(/relaykit[ /]v?\d/i);
    }
  });

  it('unknown paths are 404 and the queue API answers JSON', async () => {
    const t = await sandbox.start();
    expect((await get(t, '/nope')).status).toBe(404);
    const q = await get(t, '/api/queue');
    expect(q.status).toBe(200);
    expect(JSON.parse(q.text)).toEqual([]);
    expect((await get(t, '/api/queue/0000000aa-0000-00000000')).status).toBe(404);
  });
});

describe('logs', () => {
  it('redact passwords, tokens, secrets and authorization headers', () => {
    const sink = new PassThrough();
    let out = '';
    sink.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const log = createLogger({ level: 'info', destination: sink });
    log.info(
      {
        password: 'hunter2',
        auth: { user: 'scanner', password: 'p@ss' },
        headers: { authorization: 'Bearer eyJhbGciOi' },
        clientSecret: 'abc~secret',
        token: 'eyJ0eXAiOiJKV1Qi',
        connectionString: 'endpoint=https://x;accesskey=AAAA',
      },
      'login',
    );
    log.flush();
    const line = JSON.parse(out.trim()) as Record<string, unknown>;
    expect(out).not.toMatch(/hunter2|p@ss|eyJhbGciOi|abc~secret|eyJ0eXAiOiJKV1Qi|accesskey=AAAA/);
    expect(line.password).toBe('[redacted]');
    expect((line.auth as Record<string, unknown>).user).toBe('scanner');
  });
});
