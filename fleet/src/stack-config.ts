// fleet/ room: one client (client-file.ts) → the tenant program's stack config (infra/config-keys.ts,
// Pulumi.yaml), secrets marked secret, plus the stack naming convention. Pure.
import type { ConfigKey } from '../../infra/config-keys.ts';
import type { Client } from './client-file.ts';
import type { ConfigEntry, StackConfig } from './engine.ts';

/**
 * Stack naming convention: one stack per client, named by the client's code (customerCode: 2-12
 * lower-case letters/digits), in project `relaykit`. On Pulumi Cloud that is `<org>/relaykit/<code>`;
 * on a file or Azure Blob backend `organization/relaykit/<code>`.
 */
export function stackName(client: string): string {
  return client;
}

const plain = (value: string): ConfigEntry => ({ value, secret: false });
const list = (values: readonly string[]): ConfigEntry => plain(JSON.stringify(values));

/** The config keys `tenant add` sets for a client; `env` supplies secrets named by the client file. */
export function clientStackConfig(
  c: Client,
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<ConfigKey, ConfigEntry>> {
  const defaultRoute = c.routes[0] ?? 'graph';
  const out: Partial<Record<ConfigKey, ConfigEntry>> = {
    customerCode: plain(c.name),
    customerName: plain(c.displayName ?? c.name),
    tenantId: plain(c.tenantId),
    subscriptionId: plain(c.subscription),
    tenantDomains: list(c.domains),
    senderMailboxes: list(c.mailboxes),
    sites: list(c.sites.map((s) => s.name)),
    sitePublicIps: list(c.sites.flatMap((s) => (s.publicIp === undefined ? [] : [s.publicIp]))),
    deviceNetworks: list(c.sites.flatMap((s) => s.deviceNetworks)),
    defaultRoute: plain(defaultRoute),
    acsEnabled: plain(String(c.routes.includes('acs'))),
  };
  if (c.location !== undefined) out.location = plain(c.location);
  if (c.acsDomain !== undefined) out.acsDomain = plain(c.acsDomain);
  if (c.hveAccount !== undefined) out.hveAccount = plain(c.hveAccount);
  if (c.hvePasswordEnv !== undefined) {
    const password = env[c.hvePasswordEnv];
    if (password === undefined || password === '')
      throw new Error(`client ${c.name}: hvePasswordEnv names ${c.hvePasswordEnv}, which is not set`);
    out.hvePassword = { value: password, secret: true };
  }
  return out;
}

/** Today as YYYY-MM-DD (UTC), the form the *RotatedAt keys take. */
export function day(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** The keys `tenant rotate` changes: next generation, rotated today, previous kept for the grace. */
export function rotationConfig(
  current: StackConfig,
  which: { mail: boolean; appliance: boolean },
  now: number,
): Partial<Record<ConfigKey, ConfigEntry>> {
  const gen = (key: ConfigKey) => {
    const n = Number(current[key]?.value ?? '1');
    return Number.isInteger(n) && n >= 1 ? n : 1;
  };
  const out: Partial<Record<ConfigKey, ConfigEntry>> = {};
  if (which.mail) {
    out.mailCertificateGeneration = plain(String(gen('mailCertificateGeneration') + 1));
    out.mailCertificateRotatedAt = plain(day(now));
    out.mailCredentialRetirePrevious = plain('false');
  }
  if (which.appliance) {
    out.applianceCertificateGeneration = plain(String(gen('applianceCertificateGeneration') + 1));
    out.applianceCertificateRotatedAt = plain(day(now));
    out.applianceCertificateRetirePrevious = plain('false');
  }
  return out;
}

export function asStackConfig(c: Partial<Record<ConfigKey, ConfigEntry>>): StackConfig {
  return c as StackConfig;
}
