// infra/ room: the ACS domain verification trigger. azure-native has no resource for
// `POST {domainId}/initiateVerification`, so this is a small dynamic provider over arm-rest.ts.
// It asks once per set of published records (a change of the records' digest asks again) and, on a
// later run, again for every record the domain reports NotStarted or VerificationFailed. Each
// record's answer is reported in the outputs; none of them fails the run (a DMARC record ACS
// refuses must not stop the rest of the tenant). The ARM token is fetched inside the provider.
import * as pulumi from '@pulumi/pulumi';
import { type ArmTokenSource, armRequest, armToken } from './arm-rest.ts';

export const INITIATE_VERIFICATION_API = '2025-09-01';

export interface DomainVerificationInputs {
  /** Marks the resource for the mock cloud and for readers of the state. */
  relaykit: 'domain-verification';
  /** ARM ID of the Microsoft.Communication/emailServices/domains resource. */
  domainId: string;
  /** Tenant whose credentials sign the ARM calls. */
  tenantId: string;
  /** Verification types this stack wants: Domain, SPF, DKIM, DKIM2, DMARC. */
  kinds: string[];
  /** Types the domain reports NotStarted / VerificationFailed: asked again on this run. */
  retryKinds: string[];
  /** ARM endpoint, e.g. https://management.azure.com. */
  armEndpoint: string;
  /** Digest of the published record values: a change asks for every type again. */
  recordsDigest: string;
}

export interface DomainVerificationOutputs extends DomainVerificationInputs {
  /** Per type: "requested" or why the request failed. */
  results: Record<string, string>;
}

/** The verification provider with an injectable token source (tests pass a stub). */
export function domainVerificationProviderWith(
  getToken: ArmTokenSource,
): pulumi.dynamic.ResourceProvider<DomainVerificationInputs, DomainVerificationOutputs> {
  const request = async (inputs: DomainVerificationInputs, kinds: readonly string[]) => {
    const results: Record<string, string> = {};
    let token: string;
    try {
      token = await getToken(inputs.tenantId);
    } catch (err) {
      const why = `not requested: no ARM token for tenant ${inputs.tenantId} (${err instanceof Error ? err.message : String(err)})`;
      for (const kind of kinds) results[kind] = why;
      return results;
    }
    const base = inputs.armEndpoint.replace(/\/+$/, '');
    for (const kind of kinds) {
      const url = `${base}${inputs.domainId}/initiateVerification?api-version=2025-09-01`;
      const res = await armRequest(token, 'POST', url, { verificationType: kind });
      // 202 Accepted starts the long-running check; 200 means it already ran.
      results[kind] =
        res.status === 202 || res.status === 200 ? 'requested' : `failed: HTTP ${res.status} ${res.text}`;
    }
    return results;
  };
  return {
    async create(inputs) {
      const results = await request(inputs, inputs.kinds);
      return { id: `${inputs.domainId}/initiateVerification`, outs: { ...inputs, results } };
    },
    async diff(_id, olds, news) {
      const replaces = olds.domainId !== news.domainId ? ['domainId'] : [];
      const changes =
        replaces.length > 0 ||
        olds.recordsDigest !== news.recordsDigest ||
        JSON.stringify(olds.kinds) !== JSON.stringify(news.kinds) ||
        news.retryKinds.length > 0;
      return { changes, replaces, deleteBeforeReplace: true };
    },
    async update(_id, olds, news) {
      const all =
        olds.recordsDigest !== news.recordsDigest ||
        JSON.stringify(olds.kinds) !== JSON.stringify(news.kinds);
      const kinds = all ? news.kinds : news.kinds.filter((k) => news.retryKinds.includes(k));
      const fresh = await request(news, kinds);
      return { outs: { ...news, results: { ...olds.results, ...fresh } } };
    },
    async delete() {
      // Nothing to undo: a verification request leaves no object behind.
    },
  };
}

/** The provider `pulumi up` uses: the operator's Azure credentials, fetched at run time. */
export const domainVerificationProvider = domainVerificationProviderWith(armToken);

export interface DomainVerificationArgs {
  domainId: pulumi.Input<string>;
  tenantId: string;
  kinds: pulumi.Input<string[]>;
  retryKinds: pulumi.Input<string[]>;
  armEndpoint?: pulumi.Input<string>;
  recordsDigest: pulumi.Input<string>;
}

export class DomainVerification extends pulumi.dynamic.Resource {
  /** Per verification type: "requested" or why the request failed. */
  declare public readonly results: pulumi.Output<Record<string, string> | undefined>;

  constructor(name: string, args: DomainVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      domainVerificationProvider,
      name,
      {
        relaykit: 'domain-verification',
        domainId: args.domainId,
        tenantId: args.tenantId,
        kinds: args.kinds,
        retryKinds: args.retryKinds,
        armEndpoint: args.armEndpoint ?? 'https://management.azure.com',
        recordsDigest: args.recordsDigest,
        results: undefined,
      },
      opts,
    );
  }
}
