import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../appliance/src/config/load.ts';
import { baseConfigInput } from '../../helpers/appliance.ts';

function issuesOf(routes: unknown[]): Record<string, string> {
  try {
    parseConfig({ ...baseConfigInput('/tmp/relaykit-cfg'), routes, defaultRoute: 'local' }, 'test', '/tmp');
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.issues.map((i) => [i.key, i.message]));
    throw err;
  }
  return {};
}

const local = { name: 'local', type: 'capture' };

describe('acs and smtp route config', () => {
  it('accepts valid routes and fills the documented defaults', () => {
    const cfg = parseConfig(
      {
        ...baseConfigInput('/tmp/relaykit-cfg'),
        routes: [
          local,
          {
            name: 'acs',
            type: 'acs',
            auth: { type: 'accessKey', connectionString: 'acs-key' },
            senderAddress: 'DoNotReply@contoso.com',
          },
          {
            name: 'mx',
            type: 'smtp',
            preset: 'exo-connector',
            host: 'contoso-com.mail.protection.outlook.com',
            tls: { ca: 'ca.crt' },
          },
        ],
        defaultRoute: 'local',
      },
      'test',
      '/etc/relaykit',
    );
    expect(cfg.routes[1]).toMatchObject({
      apiVersion: '2025-09-01',
      maxRequestSize: 10 * 1024 * 1024,
      maxRecipientsPerRequest: 50,
      requestTimeout: 30_000,
      pollTimeout: 120_000,
      replyToOriginalSender: true,
    });
    // Relative CA paths resolve against the config file's directory.
    expect(cfg.routes[2]).toMatchObject({
      auth: { type: 'none' },
      tls: { ca: '/etc/relaykit/ca.crt', minVersion: 'TLSv1.2' },
    });
  });

  it('names each bad key of acs and smtp routes', () => {
    const found = issuesOf([
      local,
      {
        name: 'acs',
        type: 'acs',
        auth: {
          type: 'entra',
          app: { tenantId: 'contoso.onmicrosoft.com', clientId: 'not-a-guid', clientSecret: 's' },
        },
        senderAddress: 'not an address',
        maxRecipientsPerRequest: 51,
      },
      {
        name: 'mx',
        type: 'smtp',
        preset: 'exo-direct-send',
        auth: { type: 'password', username: 'u', password: 'p' },
      },
      { name: 'plain', type: 'smtp', host: 'smtp.example.net', tls: { mode: 'none' } },
    ]);
    expect(Object.keys(found).sort()).toEqual([
      'routes[1].auth.app.clientId',
      'routes[1].endpoint',
      'routes[1].maxRecipientsPerRequest',
      'routes[1].senderAddress',
      'routes[2].auth',
      'routes[2].host',
      'routes[3].tls.mode',
    ]);
    expect(found['routes[2].host']).toMatch(/tenant's MX/);
    expect(found['routes[2].auth']).toMatch(/takes no AUTH/);
    expect(found['routes[3].tls.mode']).toMatch(/loopback/);
  });

  it('requires an https endpoint with Entra auth once the shapes are valid', () => {
    const app = {
      tenantId: 'contoso.onmicrosoft.com',
      clientId: '11111111-2222-3333-4444-555555555555',
      clientSecret: 's',
    };
    const base = {
      name: 'acs',
      type: 'acs',
      auth: { type: 'entra', app },
      senderAddress: 'DoNotReply@contoso.com',
    };
    expect(issuesOf([local, base])).toEqual({
      'routes[1].endpoint': expect.stringMatching(/required with Entra/),
    });
    expect(issuesOf([local, { ...base, endpoint: 'http://x.communication.azure.com' }])).toEqual({
      'routes[1].endpoint': 'must use https',
    });
    expect(issuesOf([local, { ...base, endpoint: 'http://127.0.0.1:8080' }])).toEqual({
      'routes[1].endpoint': 'must use https',
    });
  });
});
