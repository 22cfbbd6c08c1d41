// Appliance bundle: the JSON contract of wt-notes/bundle.md, the config YAML round-trip, Key Vault
// references for every secret, and validity against the appliance's own config schema.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../appliance/src/config/load.ts';
import {
  type ApplianceConfigInput,
  renderApplianceConfig,
  renderApplianceConfigYaml,
  renderBundle,
} from '../../infra/appliance-bundle.ts';

const input: ApplianceConfigInput = {
  site: 'hq',
  customerCode: 'fabrikam',
  tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90',
  smtpPort: 25,
  deviceNetworks: ['192.168.10.0/24'],
  defaultRoute: 'graph',
  keyVault: {
    url: 'https://kv-rk-fabrikam-f051.vault.azure.net/',
    clientId: '02e0753a-4bb4-48df-a281-091344cf31e6',
  },
  mailApp: {
    clientId: 'd2a6baf7-bd75-460f-aa6b-77afdb8da470',
    credential: 'certificate',
    secretName: 'mail-app-certificate',
    largeMessages: true,
    senderMailboxes: ['scanner@fabrikam.com', 'alerts@fabrikam.com'],
  },
  acs: {
    endpoint: 'https://acs-rk-fabrikam-f051.europe.communication.azure.com',
    senderAddresses: ['donotreply@notify.fabrikam.com', 'alerts@notify.fabrikam.com'],
  },
  hve: { account: 'hve-scan@fabrikam.com', secretName: 'hve-password' },
};
const PEM =
  '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

describe('renderApplianceConfig', () => {
  it('points the routes at this tenant and keeps every secret in Key Vault', () => {
    const cfg = renderApplianceConfig(input) as Record<string, any>;
    expect(cfg.routes.map((r: { name: string; type: string }) => `${r.name}:${r.type}`)).toEqual([
      'graph:graph',
      'acs:acs',
      'hve:smtp',
    ]);
    expect(cfg.routes[0]).toEqual({
      name: 'graph',
      type: 'graph',
      tenantId: input.tenantId,
      clientId: input.mailApp.clientId,
      clientCertificate: 'mail-app',
      largeMessages: true,
    });
    expect(cfg.routes[1].auth).toEqual({
      type: 'entra',
      app: { tenantId: input.tenantId, clientId: input.mailApp.clientId, clientCertificate: 'mail-app' },
    });
    expect(cfg.credentials).toEqual({
      'mail-app': { keyVault: { secret: 'mail-app-certificate' } },
      'hve-password': { keyVault: { secret: 'hve-password' } },
    });
    expect(cfg.keyVault).toEqual({
      url: 'https://kv-rk-fabrikam-f051.vault.azure.net',
      tenantId: input.tenantId,
      clientId: input.keyVault.clientId,
      certificate: 'appliance-identity.pem',
    });
    expect(JSON.stringify(cfg)).not.toMatch(/BEGIN|secret-value|password":"[^h]/);
  });

  it('accepts the domains of the tenant mailboxes it knows, so `external:` rules work', () => {
    expect(renderApplianceConfig(input).acceptedDomains).toEqual(['fabrikam.com']);
    const cfg = renderApplianceConfig({
      ...input,
      mailApp: { ...input.mailApp, senderMailboxes: ['Scanner@Contoso.com', 'alerts@fabrikam.com'] },
      hve: { account: 'hve@mail.contoso.com', secretName: 'hve-password' },
    });
    expect(cfg.acceptedDomains).toEqual(['contoso.com', 'fabrikam.com', 'mail.contoso.com']);
    const { hve: _hve, ...noHve } = input;
    const none = renderApplianceConfig({ ...noHve, mailApp: { ...input.mailApp, senderMailboxes: [] } });
    expect(none).not.toHaveProperty('acceptedDomains');
  });

  it('sends through the one sender mailbox when the scope has exactly one', () => {
    const cfg = renderApplianceConfig({
      ...input,
      mailApp: { ...input.mailApp, senderMailboxes: ['scanner@fabrikam.com'] },
    });
    expect((cfg.routes as Array<Record<string, unknown>>)[0]?.mailbox).toBe('scanner@fabrikam.com');
  });

  it('refuses a default route the tenant does not have', () => {
    const { hve: _hve, ...noHve } = input;
    expect(() => renderApplianceConfig({ ...noHve, defaultRoute: 'hve' })).toThrow(
      'default route "hve" is not configured for this tenant',
    );
  });

  it('YAML text parses back to the same config', () => {
    expect(parse(renderApplianceConfigYaml(input))).toEqual(renderApplianceConfig(input));
  });

  // A schema rejection here is a failure naming the bad keys, never a skip.
  it('is valid for the appliance config schema', () => {
    const cfg = parseConfig(parse(renderApplianceConfigYaml(input)), 'bundle', '/etc/relaykit') as Record<
      string,
      any
    >;
    expect(cfg.defaultRoute).toBe('graph');
    expect(cfg.acceptedDomains).toEqual(['fabrikam.com']);
    expect(cfg.keyVault.certificate).toBe('/etc/relaykit/appliance-identity.pem');
  });
});

describe('renderBundle', () => {
  it('follows the bundle contract', () => {
    const bundle = JSON.parse(renderBundle(input, PEM));
    expect(bundle).toEqual({
      kind: 'relaykit-appliance-bundle',
      version: 1,
      site: 'hq',
      tenant: 'fabrikam',
      files: { 'config.yaml': renderApplianceConfigYaml(input), 'appliance-identity.pem': PEM },
    });
  });
  it('refuses an identity without certificate and PKCS#8 key', () => {
    expect(() => renderBundle(input, '-----BEGIN CERTIFICATE-----\n')).toThrow(
      'the appliance identity must be a PEM certificate followed by a PKCS#8 private key',
    );
  });
});
