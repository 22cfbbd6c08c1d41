// The edge pair (issue 19 item 2) on one machine: nodes A and B are network namespaces on a bridged
// LAN, each running Debian's keepalived with the keepalived.conf rendered from its own config's
// `ha:` (ops/keepalived-conf.ts) and the image's readyz-probe, plus a relay with its own spool. A
// client namespace sends with swaks to the virtual address only. Each node's next hop is an SMTP
// sink on its own loopback, all writing to one directory; A's is held down until A comes back, so
// the mail A accepted is still in A's spool when A dies.
//   1. A (priority 150) holds the address; mail to it is accepted (250) and queued on A.
//   2. A's relay is killed (SIGKILL): /readyz fails, A drops to priority 1, B takes the address;
//      mail keeps being accepted, now by B, and B delivers it.
//   3. A's relay restarts on its spool: what A accepted before it died is delivered; A, ready
//      again, takes the address back.
//   4. A's keepalived is killed (SIGKILL, parent and VRRP child): B takes the address; mail flows.
//      A restarts keepalived (systemd's Restart= in the image) and takes it back.
// At the end the sink holds exactly the messages that got a 250, each once. Failover times are
// measured and printed (no timed assertion: every wait is bounded and reports its figure).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../appliance/src/config/load.ts';
import type { ConfigInput } from '../../appliance/src/config/schema.ts';
import { renderKeepalivedConf } from '../../appliance/src/ops/keepalived-conf.ts';
import { type ChildAppliance, NODE, ROOT, startChild, writeConfig } from '../helpers/child-appliance.ts';
import { NetnsLan, netnsUnavailable } from '../helpers/netns.ts';
import { missing, requireTool } from '../helpers/tools.ts';

const KEEPALIVED = '/usr/sbin/keepalived';
const PROBE = join(ROOT, 'appliance/image/vm/overlay/usr/local/lib/relaykit/readyz-probe');
const VIP = '10.77.0.10';
const SMTP_PORT = 2525;
const SINK_PORT = 2526;
const NODES = {
  a: { address: '10.77.0.11', peer: '10.77.0.12', priority: 150 },
  b: { address: '10.77.0.12', peer: '10.77.0.11', priority: 100 },
} as const;
type NodeName = keyof typeof NODES;
const run = promisify(execFile);
const figures: Record<string, number | string> = {};

function nodeConfig(node: NodeName, spoolDir: string): ConfigInput {
  const n = NODES[node];
  return {
    appliance: { hostname: `relaykit-${node}` },
    log: { level: 'info' },
    listeners: [{ name: 'devices', address: '0.0.0.0', port: SMTP_PORT, auth: false }],
    identities: [{ name: 'site-devices', networks: ['10.77.0.0/24'] }],
    routes: [{ name: 'next-hop', type: 'smtp', host: '127.0.0.1', port: SINK_PORT, tls: { mode: 'none' } }],
    defaultRoute: 'next-hop',
    spool: { directory: spoolDir, retrySchedule: '1s*600' },
    delivery: { pollInterval: '200ms' },
    http: { address: '127.0.0.1', port: 8025 },
    ha: {
      virtualAddress: `${VIP}/24`,
      interface: 'lan0',
      routerId: 77,
      priority: n.priority,
      peers: [n.peer],
      unicastSource: n.address,
    },
  };
}

interface Sent {
  readonly subject: string;
  readonly accepted: boolean;
  /** Host name from the 220 banner: which node answered on the virtual address. */
  readonly node?: string;
  readonly detail: string;
  /** When the reply came (Date.now()). */
  readonly at: number;
}

describe('VRRP edge pair (keepalived in network namespaces)', () => {
  const lan = new NetnsLan('vp');
  const procs: ChildProcess[] = [];
  const relays = new Map<NodeName, ChildAppliance>();
  const keepalived = new Map<NodeName, { proc: ChildProcess; vrrpPid: string; log: () => string }>();
  let work = '';
  let data = '';
  let sinkDir = '';
  let counter = 0;

  afterAll(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const k of keepalived.values()) killPidFile(k.vrrpPid);
    lan.destroy();
    for (const dir of [work, data]) if (dir !== '') rmSync(dir, { recursive: true, force: true });
    if (Object.keys(figures).length > 0) {
      mkdirSync(join(ROOT, 'var'), { recursive: true });
      writeFileSync(join(ROOT, 'var/vrrp-pair-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
      console.log(`vrrp-pair figures: ${JSON.stringify(figures)}`);
    }
  });

  function track<T extends ChildProcess>(p: T): T {
    procs.push(p);
    return p;
  }

  async function startRelay(node: NodeName): Promise<void> {
    const dir = join(work, node);
    const relay = await startChild(join(dir, 'config.yaml'), 60_000, lan.exec(node));
    track(relay.proc);
    relays.set(node, relay);
  }

  function startKeepalived(node: NodeName): void {
    const dir = join(work, node);
    const vrrpPid = join(dir, 'vrrp.pid');
    const args = ['-n', '-l', '-D', '-G', '-P', '-f', join(dir, 'keepalived.conf')];
    const argv = [...lan.exec(node), KEEPALIVED, ...args, '-p', join(dir, 'keepalived.pid'), '-r', vrrpPid];
    const proc = track(spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    keepalived.set(node, { proc, vrrpPid, log: () => out });
  }

  async function startSink(node: NodeName): Promise<void> {
    const argv = [
      ...lan.exec(node),
      NODE,
      join(ROOT, 'test/helpers/sim/smtp-sink-main.ts'),
      String(SINK_PORT),
      sinkDir,
    ];
    const proc = track(spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`sink on ${node} exited (${code})`)));
    });
  }

  async function holders(): Promise<NodeName[]> {
    const out: NodeName[] = [];
    for (const node of ['a', 'b'] as const) if ((await lan.addresses(node)).includes(VIP)) out.push(node);
    return out;
  }

  /** Waits (bounded) until exactly `node` holds the virtual address; returns the milliseconds it took. */
  async function waitForHolder(node: NodeName, since: number, boundMs = 60_000, alsoStale = false) {
    for (;;) {
      const h = await holders();
      if (h.includes(node) && (alsoStale || h.length === 1)) return Date.now() - since;
      if (Date.now() - since > boundMs) {
        throw new Error(
          `${node} did not take ${VIP} within ${boundMs} ms (holders: ${h.join(',') || 'none'})\n` +
            `--- keepalived a ---\n${keepalived.get('a')?.log().slice(-3000)}\n--- keepalived b ---\n${keepalived.get('b')?.log().slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function send(): Promise<Sent> {
    counter += 1;
    const subject = `vrrp-${counter}`;
    const argv = [
      ...lan.exec('client'),
      '/usr/bin/swaks',
      '--server',
      VIP,
      '--port',
      String(SMTP_PORT),
      '--timeout',
      '10',
      '--from',
      'scanner@contoso.com',
      '--to',
      `user${counter}@contoso.com`,
      '--header',
      `Subject: ${subject}`,
      '--body',
      `message ${counter}`,
    ];
    try {
      const { stdout } = await run(argv[0] as string, argv.slice(1));
      const node = /<- {2}220 (\S+)/.exec(stdout)?.[1];
      const accepted = /<- {2}250 2\.0\.0 Ok: queued as /.test(stdout);
      return {
        subject,
        accepted,
        ...(node === undefined ? {} : { node }),
        detail: stdout.slice(-300),
        at: Date.now(),
      };
    } catch (err) {
      const e = err as { stdout?: string; message: string };
      return { subject, accepted: false, detail: (e.stdout ?? e.message).slice(-300), at: Date.now() };
    }
  }

  /** Sends until `want` messages are accepted (bounded); failures before that are counted. */
  async function sendUntil(want: number, boundMs = 60_000) {
    const start = Date.now();
    const results: Sent[] = [];
    while (results.filter((r) => r.accepted).length < want) {
      if (Date.now() - start > boundMs)
        throw new Error(
          `only ${results.filter((r) => r.accepted).length} of ${want} accepted in ${boundMs} ms: ${JSON.stringify(results.slice(-3))}`,
        );
      const r = await send();
      results.push(r);
      if (!r.accepted) await new Promise((res) => setTimeout(res, 200));
    }
    return results;
  }

  async function delivered(): Promise<Map<string, string[]>> {
    const bySubject = new Map<string, string[]>();
    for (const f of (await readdir(sinkDir)).filter((n) => n.endsWith('.eml'))) {
      const text = await readFile(join(sinkDir, f), 'utf8');
      const subject = /^Subject: (vrrp-\d+)/m.exec(text)?.[1] ?? `?${f}`;
      const by = /by (relaykit-[ab]) \(relaykit\)/.exec(text)?.[1] ?? '?';
      bySubject.set(subject, [...(bySubject.get(subject) ?? []), by]);
    }
    return bySubject;
  }

  async function waitDelivered(
    subjects: readonly string[],
    boundMs = 90_000,
  ): Promise<Map<string, string[]>> {
    const start = Date.now();
    for (;;) {
      const got = await delivered();
      if (subjects.every((s) => got.has(s))) return got;
      if (Date.now() - start > boundMs) {
        throw new Error(
          `not delivered within ${boundMs} ms: ${subjects.filter((s) => !got.has(s)).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('moves the address to the ready node, keeps mail flowing, and loses nothing', async (ctx) => {
    const why = netnsUnavailable();
    if (why !== undefined) missing(ctx, why);
    if (!existsSync(KEEPALIVED)) missing(ctx, 'keepalived is not installed (apt-get install keepalived)');
    requireTool(ctx, 'swaks');

    // keepalived's enable_script_security refuses a probe under a directory others may write (/tmp):
    // the image's probe is copied to a root-owned directory, as the image installs it.
    work = mkdtempSync(join('/run', 'relaykit-vrrp-'));
    chmodSync(work, 0o755);
    const probe = join(work, 'readyz-probe');
    copyFileSync(PROBE, probe);
    chmodSync(probe, 0o755);
    data = mkdtempSync(join(tmpdir(), 'relaykit-vrrp-'));
    sinkDir = join(data, 'sink');
    mkdirSync(sinkDir);

    lan.create();
    lan.addHost('a', `${NODES.a.address}/24`);
    lan.addHost('b', `${NODES.b.address}/24`);
    lan.addHost('client', '10.77.0.100/24');
    for (const node of ['a', 'b'] as const) {
      const dir = join(work, node);
      mkdirSync(dir);
      const input = nodeConfig(node, join(data, `spool-${node}`));
      const configPath = await writeConfig(dir, input);
      const config = parseConfig(input, configPath, dir);
      if (config.ha === undefined) throw new Error('ha missing from the parsed config');
      writeFileSync(
        join(dir, 'keepalived.conf'),
        renderKeepalivedConf({
          ha: config.ha,
          http: config.http,
          probe,
          scriptUser: 'nobody',
          routerName: config.appliance.hostname,
          source: configPath,
        }),
      );
    }
    await Promise.all([startRelay('a'), startRelay('b'), startSink('b')]);
    const t0 = Date.now();
    startKeepalived('a');
    startKeepalived('b');
    figures.initialElectionMs = await waitForHolder('a', t0);

    // 1. A holds the address: mail is accepted by A and waits in A's spool (A's next hop is down).
    const phase1 = await sendUntil(3);
    expect(phase1.every((r) => r.accepted && r.node === 'relaykit-a')).toBe(true);

    // 2. A's relay dies; /readyz stops answering; B takes the address and accepts the mail.
    //    The client keeps sending from the moment of the kill, as a device would: what it sees is
    //    refused connections until B holds the address.
    const tKill = Date.now();
    relays.get('a')?.proc.kill('SIGKILL');
    const [movedMs, phase2] = await Promise.all([waitForHolder('b', tKill), sendUntil(3)]);
    figures.relayKilledToBackupMs = movedMs;
    figures.relayKilledFirstAcceptedMs = (phase2.find((r) => r.accepted)?.at ?? Number.NaN) - tKill;
    figures.relayKilledRefusedAttempts = phase2.filter((r) => !r.accepted).length;
    expect(phase2.filter((r) => r.accepted).every((r) => r.node === 'relaykit-b')).toBe(true);
    await waitDelivered(phase2.filter((r) => r.accepted).map((r) => r.subject));

    // 3. A's relay comes back on its own spool: what it accepted before dying is delivered.
    const tBack = Date.now();
    await startSink('a');
    await startRelay('a');
    const got = await waitDelivered(phase1.map((r) => r.subject));
    figures.relayRestartToSpoolDeliveredMs = Date.now() - tBack;
    for (const r of phase1) expect(got.get(r.subject)).toEqual(['relaykit-a']);
    figures.relayBackToAddressBackMs = await waitForHolder('a', tBack);

    // 4. A's whole keepalived is killed: its address stays configured on A (nobody removes it), B
    //    takes over too and announces itself by gratuitous ARP, so the client follows B.
    const k = keepalived.get('a');
    const tKa = Date.now();
    killPidFile(k?.vrrpPid ?? '');
    k?.proc.kill('SIGKILL');
    const [movedKaMs, during] = await Promise.all([waitForHolder('b', tKa, 60_000, true), send()]);
    figures.keepalivedKilledToBackupMs = movedKaMs;
    figures.keepalivedKilledAtOnceSentTo = during.accepted ? (during.node ?? '?') : 'refused';
    figures.keepalivedKilledStaleOnA = (await holders()).includes('a') ? 'yes' : 'no';
    const phase4 = await sendUntil(3);
    figures.keepalivedKilledAcceptedBy = [
      ...new Set(phase4.filter((r) => r.accepted).map((r) => r.node)),
    ].join(',');
    // systemd's Restart=on-failure (the image's keepalived drop-in) starts it again: it removes the
    // stale address at start, then A, ready, takes the address back.
    const tRestart = Date.now();
    startKeepalived('a');
    figures.keepalivedRestartToAddressBackMs = await waitForHolder('a', tRestart);
    const phase5 = await sendUntil(2);
    expect(phase5.filter((r) => r.accepted).every((r) => r.node === 'relaykit-a')).toBe(true);

    // Nothing lost, nothing twice: the sink holds exactly the messages that got a 250.
    const accepted = [...phase1, ...phase2, during, ...phase4, ...phase5]
      .filter((r) => r.accepted)
      .map((r) => r.subject);
    const final = await waitDelivered(accepted);
    figures.accepted = accepted.length;
    figures.delivered = [...final.values()].reduce((n, v) => n + v.length, 0);
    expect([...final.keys()].sort()).toEqual([...accepted].sort());
    expect([...final.values()].every((v) => v.length === 1)).toBe(true);
    expect(figures.delivered).toBe(accepted.length);
  }, 420_000);
});

function killPidFile(path: string): void {
  try {
    process.kill(Number(readFileSync(path, 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
}
