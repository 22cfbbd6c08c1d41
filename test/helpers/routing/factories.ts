// Factories for routing tests: a valid config around a rule list, and a message to route.
import { parseConfig } from '../../../appliance/src/config/load.ts';
import type { Config } from '../../../appliance/src/config/schema.ts';
import type { RouteInput } from '../../../appliance/src/routing/router.ts';
import { type CompiledRules, compileRules } from '../../../appliance/src/routing/rules.ts';

export const ROUTE_NAMES = ['local', 'acs', 'graph', 'smarthost'] as const;

/** The raw (pre-parse) document: two identities, four capture routes, contoso.com accepted. */
export function rawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: [{ name: 'smtp', port: 2525, auth: false }],
    identities: [
      { name: 'scanners', networks: ['10.1.0.0/16'] },
      { name: 'apps', networks: ['2001:db8:1::/48'] },
      { name: 'nas', networks: ['192.168.5.7'] },
    ],
    acceptedDomains: ['contoso.com', '*.contoso.com'],
    routes: [
      { name: 'local', type: 'capture', directory: '/tmp/relaykit-test/local' },
      { name: 'acs', type: 'capture', directory: '/tmp/relaykit-test/acs', fallback: 'smarthost' },
      { name: 'graph', type: 'capture', directory: '/tmp/relaykit-test/graph', fallback: 'acs' },
      { name: 'smarthost', type: 'capture', directory: '/tmp/relaykit-test/smarthost' },
    ],
    defaultRoute: 'local',
    rules: [],
    ...overrides,
  };
}

export function configWith(overrides: Record<string, unknown> = {}): Config {
  return parseConfig(rawConfig(overrides), 'test', '/tmp');
}

export function rulesWith(rules: unknown[], overrides: Record<string, unknown> = {}): CompiledRules {
  return compileRules(configWith({ rules, ...overrides }));
}

export function message(overrides: Partial<RouteInput> = {}): RouteInput {
  return {
    identity: 'scanners',
    sourceIp: '10.1.2.3',
    mailFrom: 'scanner@contoso.com',
    recipients: ['alice@contoso.com'],
    size: 1000,
    headers: [{ name: 'Subject', value: 'Scan from MFD' }],
    ...overrides,
  };
}
