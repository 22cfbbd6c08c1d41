// infra/ room: resource-provider registration, the pre-flight of a fresh subscription. The first
// `pulumi up` on a subscription that never used ACS or Key Vault would fail on "subscription is not
// registered to use namespace Microsoft.Communication"; this dynamic resource registers what the
// stack needs (and waits for Registered) before anything else is created, or stops naming the
// `az provider register` commands when the operator may not register. Never unregisters.
import * as pulumi from '@pulumi/pulumi';
import { type ArmTokenSource, armRequest, armToken } from './arm-rest.ts';
import type { TenantConfig } from './config-keys.ts';

export const PROVIDERS_API = '2021-04-01';

/** The resource-provider namespaces a stack needs, from its config alone. */
export function requiredProviders(cfg: TenantConfig): string[] {
  return [
    'Microsoft.KeyVault',
    'Microsoft.Insights',
    ...(cfg.diagnosticsWorkspaceId === undefined ? ['Microsoft.OperationalInsights'] : []),
    ...(cfg.acs.enabled ? ['Microsoft.Communication'] : []),
    ...(cfg.dns.zoneName === undefined ? [] : ['Microsoft.Network']),
  ];
}

export interface ProviderRegistrationInputs {
  relaykit: 'provider-registration';
  subscriptionId: string;
  tenantId: string;
  namespaces: string[];
  armEndpoint: string;
  /** Polls of registrationState before giving up, and the pause between them. */
  polls: number;
  pollMs: number;
}

export function providerRegistrationProviderWith(
  getToken: ArmTokenSource,
): pulumi.dynamic.ResourceProvider<ProviderRegistrationInputs, ProviderRegistrationInputs> {
  const register = async (i: ProviderRegistrationInputs): Promise<void> => {
    const token = await getToken(i.tenantId);
    const base = `${i.armEndpoint.replace(/\/+$/, '')}/subscriptions/${i.subscriptionId}/providers`;
    const stateOf = async (ns: string): Promise<string> => {
      const res = await armRequest(token, 'GET', `${base}/${ns}?api-version=2021-04-01`);
      if (res.status !== 200)
        throw new Error(`reading provider ${ns} failed: HTTP ${res.status} ${res.text}`);
      return String((res.body as { registrationState?: string }).registrationState ?? 'unknown');
    };
    const stuck: string[] = [];
    for (const ns of i.namespaces) {
      if ((await stateOf(ns)) === 'Registered') continue;
      const res = await armRequest(token, 'POST', `${base}/${ns}/register?api-version=2021-04-01`);
      if (res.status !== 200) {
        stuck.push(`${ns} (register refused: HTTP ${res.status})`);
        continue;
      }
      let state = 'Registering';
      for (let poll = 0; poll < i.polls && state !== 'Registered'; poll++) {
        await new Promise((resolve) => setTimeout(resolve, i.pollMs));
        state = await stateOf(ns);
      }
      if (state !== 'Registered') stuck.push(`${ns} (still ${state})`);
    }
    if (stuck.length > 0) {
      const names = stuck.map((s) => s.split(' ')[0]);
      throw new Error(
        `resource providers not registered in subscription ${i.subscriptionId}: ${stuck.join(', ')}. ` +
          `Ask a subscription Owner or Contributor to run: ${names.map((n) => `az provider register --namespace ${n} --wait`).join('; ')} — then run pulumi up again.`,
      );
    }
  };
  return {
    async create(inputs) {
      await register(inputs);
      return { id: `/subscriptions/${inputs.subscriptionId}/providers/relaykit-registration`, outs: inputs };
    },
    async diff(_id, olds, news) {
      const changes = JSON.stringify(olds.namespaces) !== JSON.stringify(news.namespaces);
      return { changes, replaces: olds.subscriptionId !== news.subscriptionId ? ['subscriptionId'] : [] };
    },
    async update(_id, _olds, news) {
      await register(news);
      return { outs: news };
    },
    async delete() {
      // Never unregister: other workloads of the subscription may use the same providers.
    },
  };
}

export const providerRegistrationProvider = providerRegistrationProviderWith(armToken);

export class ProviderRegistration extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { subscriptionId: string; tenantId: string; namespaces: string[] },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providerRegistrationProvider,
      name,
      {
        relaykit: 'provider-registration',
        ...args,
        armEndpoint: 'https://management.azure.com',
        polls: 30,
        pollMs: 10_000,
      },
      opts,
    );
  }
}
