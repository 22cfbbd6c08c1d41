// Config-level settings for the Microsoft cloud (issue 4): which cloud (authority + Graph host), the
// outbound HTTP proxy and extra trusted CAs, and the Key Vault the appliance reads credentials from
// with its own certificate identity. Per-route settings live in route-graph.ts.
import { z } from 'zod';
import { duration } from './fields.ts';

/**
 * Named clouds. Authority hosts and Graph endpoints per Microsoft's national-cloud deployment table;
 * GCC (moderate) tenants use the global cloud, GCC High uses `usgov`, DoD uses `usgov-dod`.
 */
export const CLOUD_PRESETS = {
  global: {
    authorityHost: 'https://login.microsoftonline.com',
    graphBaseUrl: 'https://graph.microsoft.com/v1.0',
  },
  usgov: {
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://graph.microsoft.us/v1.0',
  },
  'usgov-dod': {
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://dod-graph.microsoft.us/v1.0',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
  },
} as const;

export type CloudPreset = keyof typeof CLOUD_PRESETS;

/**
 * A client-credentials token scope: a resource identifier (App ID URI or app id) + "/.default". Set
 * explicitly when a service is reached under another name than its resource (an API gateway, a
 * private endpoint, a test fake); Entra otherwise answers AADSTS500011 invalid_resource.
 */
export const tokenScope = z
  .string()
  .regex(
    /^\S+\/\.default$/,
    'must be a resource identifier followed by /.default, e.g. https://graph.microsoft.com/.default',
  );

const httpsUrl = z
  .string()
  .url()
  .refine((u) => u.startsWith('https://'), 'must be an https:// URL');

export const cloudSchema = z
  .strictObject({
    /** global | usgov (GCC High) | usgov-dod | china. */
    preset: z.enum(['global', 'usgov', 'usgov-dod', 'china']).default('global'),
    /** Overrides the preset's Entra authority host (https://login.microsoftonline.com). */
    authorityHost: httpsUrl.optional(),
    /** Overrides the preset's Graph base URL, version included (https://graph.microsoft.com/v1.0). */
    graphBaseUrl: httpsUrl.optional(),
    /**
     * Token scope for Graph. Default: the Graph base URL's origin + "/.default" (the preset's Graph
     * resource). Set it when graphBaseUrl names a gateway or private endpoint.
     */
    graphScope: tokenScope.optional(),
    /** HTTP(S) proxy for every cloud request (Entra, Graph, Key Vault), e.g. http://proxy:3128. */
    proxy: z.string().url().optional(),
    /** PEM file of extra CA certificates to trust (a TLS-inspecting proxy), added to the system set. */
    caFile: z.string().optional(),
    /** Timeout of each token and Key Vault request. */
    requestTimeout: duration.default(30_000),
  })
  .prefault({});

export const keyVaultSchema = z.strictObject({
  /** Vault URL, e.g. https://contoso-relay.vault.azure.net. */
  url: httpsUrl,
  /** The appliance's own Entra identity (an app registration with a certificate credential). */
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  /** PEM file holding the appliance certificate and its private key. */
  certificate: z.string().min(1),
  /** How often cached Key Vault values are re-read, so a rotated secret is picked up. */
  refreshInterval: duration.default(3_600_000),
  /**
   * Key Vault answers an unauthenticated request with a challenge naming its resource; the SDK checks
   * that resource against the vault's host. Turn off only for a private endpoint or a simulator whose
   * host name is not under the resource's domain.
   */
  verifyChallengeResource: z.boolean().default(true),
  /**
   * Token scope for the vault. Default: the resource the vault names in its auth challenge + "/.default"
   * (https://vault.azure.net/.default in the global cloud). Set it for a private endpoint or gateway.
   */
  scope: tokenScope.optional(),
});

export type CloudConfig = z.output<typeof cloudSchema>;
export type KeyVaultConfig = z.output<typeof keyVaultSchema>;

export interface ResolvedCloud {
  readonly authorityHost: string;
  readonly graphBaseUrl: string;
  /** Token scope for Graph: cloud.graphScope, else the Graph origin + "/.default". */
  readonly graphScope: string;
}

export function resolveCloud(cloud: CloudConfig): ResolvedCloud {
  const preset = CLOUD_PRESETS[cloud.preset];
  const authorityHost = (cloud.authorityHost ?? preset.authorityHost).replace(/\/+$/, '');
  const graphBaseUrl = (cloud.graphBaseUrl ?? preset.graphBaseUrl).replace(/\/+$/, '');
  const graphScope = cloud.graphScope ?? `${new URL(graphBaseUrl).origin}/.default`;
  return { authorityHost, graphBaseUrl, graphScope };
}
