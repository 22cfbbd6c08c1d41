import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../../appliance/src/config/load.ts';
import { isRelayError } from '../../../appliance/src/errors.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/config');
const EXAMPLE = join(import.meta.dirname, '../../../appliance/config.example.yaml');

function issues(file: string): Record<string, string> {
  try {
    loadConfig(join(FIXTURES, file));
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.issues.map((i) => [i.key, i.message]));
    throw err;
  }
  throw new Error('config unexpectedly valid');
}

describe('config validation', () => {
  it('names every bad key of a file with many mistakes, and why', () => {
    const found = issues('bad-many.yaml');
    expect(Object.keys(found).sort()).toEqual([
      'identities[0].networks[0]',
      'identities[0].networks[1]',
      'listeners[0].maxMessageSize',
      'listeners[0].port',
      'listeners[0].tls.cert',
      'listeners[0].tls.key',
      'routes[1].type',
      'spool.maxAge',
      'spool.retrySchedule',
      'unknownTopLevel',
    ]);
    expect(found['listeners[0].port']).toMatch(/65535/);
    expect(found['listeners[0].tls.cert']).toBe('required when tls.mode is starttls');
    expect(found['listeners[0].maxMessageSize']).toMatch(/string/);
    expect(found['identities[0].networks[0]']).toMatch(/CIDR/);
    expect(found['routes[1].type']).toMatch(/capture|graph|acs|smtp/);
    expect(found['spool.retrySchedule']).toMatch(/soon/);
    expect(found['spool.maxAge']).toMatch(/forever/);
    expect(found.unknownTopLevel).toMatch(/unknown key/);
  });

  it('reports cross-references (fallback, defaultRoute) once the shapes are valid', () => {
    const text = readFileSync(join(FIXTURES, 'bad-many.yaml'), 'utf8');
    const doc = parseDocument(text).toJS() as Record<string, unknown>;
    const fixed = {
      ...doc,
      listeners: [{ name: 'lan', port: 25 }],
      identities: [{ name: 'scanners', networks: ['192.168.10.0/24'] }],
      routes: [{ name: 'local', type: 'capture', fallback: 'nowhere' }],
      spool: {},
    };
    delete (fixed as Record<string, unknown>).unknownTopLevel;
    try {
      loadConfigFromObject(fixed);
      expect.unreachable();
    } catch (err) {
      const byKey = Object.fromEntries((err as ConfigError).issues.map((i) => [i.key, i.message]));
      expect(byKey.defaultRoute).toBe('no route named "missing" (routes: local)');
      expect(byKey['routes[0].fallback']).toBe('no route named "nowhere" (routes: local)');
    }
  });

  it('refuses duplicate names', () => {
    expect(issues('duplicate-names.yaml')).toEqual({ 'listeners[1].name': 'duplicate name "lan"' });
  });

  it('refuses a clear-text password where a hash belongs', () => {
    expect(issues('password-in-clear.yaml')['identities[0].users[0].passwordHash']).toMatch(/hash-password/);
  });

  it('reports YAML syntax errors as RELAY_CONFIG_UNREADABLE', () => {
    try {
      loadConfig(join(FIXTURES, 'not-yaml.yaml'));
      expect.unreachable();
    } catch (err) {
      expect(isRelayError(err, 'RELAY_CONFIG_UNREADABLE')).toBe(true);
    }
  });

  it('reports a missing file as RELAY_CONFIG_UNREADABLE', () => {
    expect(() => loadConfig('/nonexistent/relaykit.yaml')).toThrow(/cannot read/);
  });

  it('loads the embedded default: loopback 2525, capture to var/outbox, status on 8025', () => {
    const { config } = loadConfig();
    expect(config.listeners[0]).toMatchObject({ address: '127.0.0.1', port: 2525, auth: false });
    expect(config.identities[0]?.networks).toEqual(['127.0.0.0/8', '::1/128']);
    expect(config.routes[0]).toMatchObject({ type: 'capture', directory: join(process.cwd(), 'var/outbox') });
    expect(config.http).toMatchObject({ address: '127.0.0.1', port: 8025 });
    expect(Object.isFrozen(config.listeners[0])).toBe(true);
  });

  it('the example file is valid and spells out every key the schema has for it', () => {
    const { config } = loadConfig(EXAMPLE);
    const raw = parseDocument(readFileSync(EXAMPLE, 'utf8')).toJS();
    const missing = leafPaths(config).filter((p) => !hasPath(raw, p));
    expect(missing).toEqual([]);
  });
});

function loadConfigFromObject(obj: unknown) {
  return parseConfig(obj, 'inline', '/');
}

/** Key paths of every leaf value (arrays of scalars count as leaves). */
function leafPaths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return [prefix];
    return v.flatMap((x, i) => leafPaths(x, [...prefix, i]));
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    if (entries.length === 0) return [prefix];
    return entries.flatMap(([k, x]) => leafPaths(x, [...prefix, k]));
  }
  return [prefix];
}

function hasPath(obj: unknown, path: (string | number)[]): boolean {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in (cur as object))) return false;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return true;
}
