// The `ha:` section (config/ha.ts): defaults with units, and every bad key named by its path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../../appliance/src/cli/program.ts';
import { ConfigError, parseConfig } from '../../../appliance/src/config/load.ts';
import type { ConfigInput } from '../../../appliance/src/config/schema.ts';
import { HA_NODE_A } from '../../fixtures/ha-node.ts';
import { captureIo } from '../../helpers/io.ts';

function config(ha: unknown, over: Partial<Record<keyof ConfigInput, unknown>> = {}): unknown {
  return {
    listeners: [{ name: 'devices', address: '0.0.0.0', port: 25 }],
    identities: [{ name: 'printers', networks: ['192.168.10.0/24'] }],
    routes: [{ name: 'local', type: 'capture' }],
    defaultRoute: 'local',
    ha,
    ...over,
  };
}

function issues(raw: unknown): Record<string, string> {
  try {
    parseConfig(raw, 'inline', '/');
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.issues.map((i) => [i.key, i.message]));
    throw err;
  }
  throw new Error('config unexpectedly valid');
}

const NODE_A = HA_NODE_A;

describe('ha config', () => {
  it('is absent unless set, and fills its defaults (seconds as milliseconds) when set', () => {
    expect(parseConfig(config(undefined), 'inline', '/').ha).toBeUndefined();
    const { ha } = parseConfig(config(NODE_A), 'inline', '/');
    expect(ha).toEqual({
      ...NODE_A,
      advertInterval: 1000,
      check: { interval: 1000, timeout: 2000, fall: 2, rise: 2 },
    });
  });

  it('names every bad key of the section', () => {
    const found = issues(
      config({
        virtualAddress: '192.168.10.25',
        interface: 'eth0 up',
        routerId: 256,
        priority: 255,
        peers: ['printer.local'],
        unicastSource: '::1',
        advertInterval: '1500ms',
        check: { interval: '0s', fall: 0 },
        authPassword: 'longer-than-8',
        preempt: false,
      }),
    );
    expect(Object.keys(found).sort()).toEqual([
      'ha.advertInterval',
      'ha.authPassword',
      'ha.check.fall',
      'ha.check.interval',
      'ha.interface',
      'ha.peers[0]',
      'ha.preempt',
      'ha.priority',
      'ha.routerId',
      'ha.unicastSource',
      'ha.virtualAddress',
    ]);
    expect(found['ha.virtualAddress']).toBe(
      'must be an IPv4 address with its prefix length, such as 192.168.10.25/24',
    );
    expect(found['ha.advertInterval']).toBe('must be whole seconds from 1s to 255s');
    expect(found['ha.check.interval']).toBe('must be whole seconds from 1s to 60s');
    expect(found['ha.authPassword']).toMatch(/1-8 printable/);
    expect(found['ha.preempt']).toMatch(/unknown key/);
  });

  it('refuses a listener bound to the virtual address (it could not start on the backup)', () => {
    const found = issues(
      config(NODE_A, {
        listeners: [
          { name: 'devices', address: '192.168.10.25', port: 25 },
          { name: 'all', address: '0.0.0.0', port: 587 },
        ],
      }),
    );
    expect(found).toEqual({
      'listeners[0].address':
        '192.168.10.25 is ha.virtualAddress, which only the master holds: the relay could not start on the backup; bind 0.0.0.0',
    });
  });

  it('needs a wildcard listener and the status server, and peers that are the other node', () => {
    const found = issues(
      config(
        {
          ...NODE_A,
          unicastSource: '192.168.10.11',
          peers: ['192.168.10.11', '192.168.10.25', '192.168.10.25'],
        },
        { listeners: [{ name: 'devices', address: '192.168.10.11', port: 25 }], http: { enabled: false } },
      ),
    );
    expect(found).toEqual({
      'http.enabled':
        'ha needs the status server: keepalived asks its /readyz whether this node may hold the address',
      'ha.virtualAddress':
        'no listener accepts on 192.168.10.25: give one listener address 0.0.0.0 so it takes mail on whichever addresses the node holds',
      'ha.peers[0]': 'is this node (ha.unicastSource): list the other node',
      'ha.peers[1]': 'a peer is a node address, not the virtual address',
      'ha.peers[2]': 'duplicate peer 192.168.10.25',
    });
  });

  it('`check` names the bad ha keys, one line each, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaykit-ha-check-'));
    const path = join(dir, 'config.yaml');
    writeFileSync(path, stringify(config({ ...NODE_A, priority: 1, peers: [] })));
    const io = captureIo();
    const code = await runCli(['check', '--schema-only', '--config', path], io);
    expect(code).toBe(1);
    expect(io.err()).toContain('  - ha.priority: ');
    expect(io.err()).toContain('  - ha.peers: ');
    rmSync(dir, { recursive: true, force: true });
  });
});
