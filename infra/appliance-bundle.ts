// infra/ room: the appliance bundle for one site — the appliance's config.yaml (routes pointing at
// this tenant's mail app, the ACS endpoint and Key Vault secret references) plus the appliance
// identity's certificate, packed as the JSON document described in wt-notes/bundle.md. Pure:
// `renderApplianceConfig` is the one place that knows the appliance's config keys.
import { stringify } from 'yaml';

export const BUNDLE_KIND = 'relaykit-appliance-bundle';
export const BUNDLE_VERSION = 1;
export const IDENTITY_FILE = 'appliance-identity.pem';

/** Credential names inside the appliance config (its `credentials:` map). */
export const CREDENTIAL_NAMES = { mailApp: 'mail-app', hvePassword: 'hve-password' } as const;

export interface ApplianceConfigInput {
  readonly site: string;
  readonly customerCode: string;
  readonly tenantId: string;
  readonly smtpPort: number;
  readonly deviceNetworks: readonly string[];
  readonly defaultRoute: 'graph' | 'acs' | 'hve';
  readonly keyVault: {
    /** https://<vault>.vault.azure.net */
    readonly url: string;
    /** Appliance identity client ID. */
    readonly clientId: string;
  };
  readonly mailApp: {
    readonly clientId: string;
    readonly credential: 'secret' | 'certificate';
    /** Key Vault secret name holding the client secret or PEM. */
    readonly secretName: string;
    readonly largeMessages: boolean;
    readonly senderMailboxes: readonly string[];
  };
  readonly acs?: {
    readonly endpoint: string;
    readonly senderAddresses: readonly string[];
  };
  readonly hve?: { readonly account: string; readonly secretName: string };
}

/** Domains of the Exchange Online mailboxes the stack names (senders, HVE account), lower-case, in order. */
function acceptedDomains(input: ApplianceConfigInput): string[] {
  const mailboxes = [...input.mailApp.senderMailboxes, ...(input.hve ? [input.hve.account] : [])];
  const domains = mailboxes.map((m) => m.slice(m.lastIndexOf('@') + 1).toLowerCase()).filter((d) => d !== '');
  return [...new Set(domains)];
}

/** The appliance config as an object (validated by the appliance's own schema in tests). */
export function renderApplianceConfig(input: ApplianceConfigInput): Record<string, unknown> {
  const appCred =
    input.mailApp.credential === 'secret'
      ? { clientSecret: CREDENTIAL_NAMES.mailApp }
      : { clientCertificate: CREDENTIAL_NAMES.mailApp };
  const routes: Record<string, unknown>[] = [
    {
      name: 'graph',
      type: 'graph',
      tenantId: input.tenantId,
      clientId: input.mailApp.clientId,
      ...appCred,
      // With exactly one sender mailbox in the Exchange scope, every message must go out through it.
      ...(input.mailApp.senderMailboxes.length === 1 ? { mailbox: input.mailApp.senderMailboxes[0] } : {}),
      largeMessages: input.mailApp.largeMessages,
    },
  ];
  if (input.acs !== undefined) {
    const [first, ...rest] = input.acs.senderAddresses;
    if (first === undefined) throw new Error('ACS route needs at least one sender address');
    routes.push({
      name: 'acs',
      type: 'acs',
      endpoint: input.acs.endpoint,
      auth: {
        type: 'entra',
        app: { tenantId: input.tenantId, clientId: input.mailApp.clientId, ...appCred },
      },
      senderAddress: first,
      ...(rest.length > 0 ? { provisionedSenders: rest } : {}),
    });
  }
  if (input.hve !== undefined) {
    routes.push({
      name: 'hve',
      type: 'smtp',
      preset: 'hve',
      auth: { type: 'password', username: input.hve.account, password: CREDENTIAL_NAMES.hvePassword },
    });
  }
  if (!routes.some((r) => r.name === input.defaultRoute)) {
    throw new Error(`default route "${input.defaultRoute}" is not configured for this tenant`);
  }
  const credentials: Record<string, unknown> = {
    [CREDENTIAL_NAMES.mailApp]: { keyVault: { secret: input.mailApp.secretName } },
  };
  if (input.hve !== undefined) {
    credentials[CREDENTIAL_NAMES.hvePassword] = { keyVault: { secret: input.hve.secretName } };
  }
  return {
    appliance: { hostname: `relaykit-${input.site}.${input.customerCode}.internal` },
    // The tenant's own domains as far as the stack knows them (its Exchange mailboxes), so routing
    // rules with `external:` work in the generated config; empty (the default) when none are known.
    ...(acceptedDomains(input).length > 0 ? { acceptedDomains: acceptedDomains(input) } : {}),
    listeners: [
      {
        name: 'devices',
        address: '0.0.0.0',
        port: input.smtpPort,
        // Devices are recognised by source network; printers rarely do TLS or AUTH.
        auth: false,
      },
    ],
    identities: [{ name: 'site-devices', networks: [...input.deviceNetworks] }],
    routes,
    defaultRoute: input.defaultRoute,
    credentials,
    keyVault: {
      url: input.keyVault.url.replace(/\/+$/, ''),
      tenantId: input.tenantId,
      clientId: input.keyVault.clientId,
      certificate: IDENTITY_FILE,
    },
  };
}

export function renderApplianceConfigYaml(input: ApplianceConfigInput): string {
  const header = [
    `# relaykit appliance config for site "${input.site}" of ${input.customerCode}.`,
    '# Generated by the Pulumi stack (infra/appliance-bundle.ts); credentials are Key Vault references,',
    `# read with the appliance identity in ${IDENTITY_FILE}. Relative paths resolve against this file.`,
  ].join('\n');
  return `${header}\n${stringify(renderApplianceConfig(input), { lineWidth: 0 })}`;
}

export interface ApplianceBundle {
  readonly kind: typeof BUNDLE_KIND;
  readonly version: typeof BUNDLE_VERSION;
  readonly site: string;
  readonly tenant: string;
  readonly files: Readonly<Record<string, string>>;
}

/** The bundle JSON written to the first-boot medium as relaykit-bundle.json. */
export function renderBundle(input: ApplianceConfigInput, identityPem: string): string {
  if (!/-----BEGIN CERTIFICATE-----/.test(identityPem) || !/-----BEGIN PRIVATE KEY-----/.test(identityPem)) {
    throw new Error('the appliance identity must be a PEM certificate followed by a PKCS#8 private key');
  }
  const bundle: ApplianceBundle = {
    kind: BUNDLE_KIND,
    version: BUNDLE_VERSION,
    site: input.site,
    tenant: input.customerCode,
    files: { 'config.yaml': renderApplianceConfigYaml(input), [IDENTITY_FILE]: identityPem },
  };
  return `${JSON.stringify(bundle, null, 2)}\n`;
}
