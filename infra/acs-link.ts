// infra/ room: the link between the ACS Email domain and the Communication Service, as an additive
// dynamic resource instead of the service's `linkedDomains` property. The property would make every
// run re-decide the whole list: a run where verification reads back differently unlinks a live
// domain, and domains linked outside the stack are dropped. This resource adds only its own domain,
// only once every required record reads Verified, never unlinks on a later run whatever the states
// say, and on delete removes only its own domain. The ARM token is fetched inside the provider.
import * as pulumi from '@pulumi/pulumi';
import { REQUIRED_FOR_LINK, type VerificationStatesOutput } from './acs-dns.ts';
import { type ArmTokenSource, armRequest, armToken } from './arm-rest.ts';

/** Microsoft.Communication API version for the domain read and the service PATCH. */
export const COMMUNICATION_API = '2025-09-01';

export interface DomainLinkInputs {
  relaykit: 'domain-link';
  communicationServiceId: string;
  domainId: string;
  tenantId: string;
  armEndpoint: string;
}

export interface DomainLinkOutputs extends DomainLinkInputs {
  linked: boolean;
  status: string;
}

const KEYS: Record<string, keyof VerificationStatesOutput> = {
  Domain: 'domain',
  SPF: 'sPF',
  DKIM: 'dKIM',
  DKIM2: 'dKIM2',
  DMARC: 'dMARC',
};

/** What is still missing before the link (empty when every required record is Verified). */
export function pendingChecks(
  states: VerificationStatesOutput | undefined,
  required: readonly string[],
): string[] {
  return required
    .filter((k) => states?.[KEYS[k] ?? 'domain']?.status !== 'Verified')
    .map((k) => `${k}=${states?.[KEYS[k] ?? 'domain']?.status ?? 'unknown'}`);
}

/** `linkedDomains` plus one ID, or without it; case-insensitive like ARM IDs; order kept. */
export function withDomain(linked: readonly string[], domainId: string, present: boolean): string[] {
  const others = linked.filter((d) => d.toLowerCase() !== domainId.toLowerCase());
  return present ? [...others, domainId] : others;
}

export function domainLinkProviderWith(
  getToken: ArmTokenSource,
): pulumi.dynamic.ResourceProvider<DomainLinkInputs, DomainLinkOutputs> {
  const url = (i: DomainLinkInputs, id: string) =>
    `${i.armEndpoint.replace(/\/+$/, '')}${id}?api-version=${COMMUNICATION_API}`;
  const linkedDomainsOf = (body: unknown): string[] =>
    (
      (body as { properties?: { linkedDomains?: string[] } } | undefined)?.properties?.linkedDomains ?? []
    ).slice();
  const fail = (what: string, res: { status: number; text: string }) =>
    new Error(`${what} failed: HTTP ${res.status} ${res.text}`);

  const tryLink = async (i: DomainLinkInputs): Promise<DomainLinkOutputs> => {
    const token = await getToken(i.tenantId);
    const domain = await armRequest(token, 'GET', url(i, i.domainId));
    if (domain.status !== 200) throw fail(`reading ${i.domainId}`, domain);
    const states = (domain.body as { properties?: { verificationStates?: VerificationStatesOutput } })
      .properties?.verificationStates;
    const pending = pendingChecks(states, REQUIRED_FOR_LINK);
    if (pending.length > 0) {
      return {
        ...i,
        linked: false,
        status: `phase 2 waiting: not yet verified (${pending.join(', ')}); run \`pulumi up\` again later`,
      };
    }
    const service = await armRequest(token, 'GET', url(i, i.communicationServiceId));
    if (service.status !== 200) throw fail(`reading ${i.communicationServiceId}`, service);
    const current = linkedDomainsOf(service.body);
    if (!current.some((d) => d.toLowerCase() === i.domainId.toLowerCase())) {
      const patched = await armRequest(token, 'PATCH', url(i, i.communicationServiceId), {
        properties: { linkedDomains: withDomain(current, i.domainId, true) },
      });
      if (patched.status !== 200 && patched.status !== 202) throw fail(`linking ${i.domainId}`, patched);
    }
    return { ...i, linked: true, status: 'phase 2: verified and linked' };
  };

  return {
    async create(inputs) {
      return {
        id: `${inputs.communicationServiceId}/linkedDomains/${inputs.domainId.split('/').pop()}`,
        outs: await tryLink(inputs),
      };
    },
    async diff(_id, olds, news) {
      const replaces = ['communicationServiceId', 'domainId'].filter(
        (k) => olds[k as keyof DomainLinkInputs] !== news[k as keyof DomainLinkInputs],
      );
      // Linked stays linked (no re-decision); not yet linked tries again on every run.
      return { changes: replaces.length > 0 || !olds.linked, replaces, deleteBeforeReplace: true };
    },
    async update(_id, _olds, news) {
      return { outs: await tryLink(news) };
    },
    async delete(_id, olds) {
      if (!olds.linked) return;
      const token = await getToken(olds.tenantId);
      const service = await armRequest(token, 'GET', url(olds, olds.communicationServiceId));
      if (service.status === 404) return;
      if (service.status !== 200) throw fail(`reading ${olds.communicationServiceId}`, service);
      const current = linkedDomainsOf(service.body);
      if (!current.some((d) => d.toLowerCase() === olds.domainId.toLowerCase())) return;
      const patched = await armRequest(token, 'PATCH', url(olds, olds.communicationServiceId), {
        properties: { linkedDomains: withDomain(current, olds.domainId, false) },
      });
      if (patched.status !== 200 && patched.status !== 202) throw fail(`unlinking ${olds.domainId}`, patched);
    },
  };
}

export const domainLinkProvider = domainLinkProviderWith(armToken);

export interface DomainLinkArgs {
  communicationServiceId: pulumi.Input<string>;
  domainId: pulumi.Input<string>;
  tenantId: string;
  armEndpoint?: pulumi.Input<string>;
}

export class DomainLink extends pulumi.dynamic.Resource {
  declare public readonly linked: pulumi.Output<boolean | undefined>;
  declare public readonly status: pulumi.Output<string | undefined>;

  constructor(name: string, args: DomainLinkArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      domainLinkProvider,
      name,
      {
        relaykit: 'domain-link',
        communicationServiceId: args.communicationServiceId,
        domainId: args.domainId,
        tenantId: args.tenantId,
        armEndpoint: args.armEndpoint ?? 'https://management.azure.com',
        linked: undefined,
        status: undefined,
      },
      opts,
    );
  }
}
