// infra/ room: the ACS domain verification trigger. azure-native has no resource for
// `POST {domainId}/initiateVerification`, so this is a small dynamic provider that calls ARM with a
// token from azure-native's own credentials (authorization.getClientToken). It runs once per set of
// published records: when the records' digest changes it asks again. The provider's functions use
// only globals (fetch, AbortSignal) because Pulumi serialises them into the state.
import * as pulumi from '@pulumi/pulumi';

export const INITIATE_VERIFICATION_API = '2025-09-01';

export interface DomainVerificationInputs {
  /** ARM ID of the Microsoft.Communication/emailServices/domains resource. */
  domainId: string;
  /** Verification types to request: Domain, SPF, DKIM, DKIM2, DMARC. */
  kinds: string[];
  /** Bearer token for ARM (secret). */
  armToken: string;
  /** ARM endpoint, e.g. https://management.azure.com. */
  armEndpoint: string;
  /** Digest of the published record values: a change re-requests verification. */
  recordsDigest: string;
}

export const domainVerificationProvider: pulumi.dynamic.ResourceProvider<DomainVerificationInputs> = {
  async create(inputs: DomainVerificationInputs) {
    const base = inputs.armEndpoint.replace(/\/+$/, '');
    for (const kind of inputs.kinds) {
      const url = `${base}${inputs.domainId}/initiateVerification?api-version=2025-09-01`;
      // ARM throttles with 429 + Retry-After and may answer 5xx briefly: a few bounded retries.
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${inputs.armToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ verificationType: kind }),
          signal: AbortSignal.timeout(60_000),
        });
        // 202 Accepted starts the long-running check; 200 means it already ran.
        if (res.status === 202 || res.status === 200) break;
        const text = (await res.text()).slice(0, 500);
        const retryable = res.status === 429 || res.status >= 500;
        if (!retryable || attempt >= 4) {
          throw new Error(
            `initiateVerification ${kind} for ${inputs.domainId} failed: HTTP ${res.status} ${text}`,
          );
        }
        const after = Number(res.headers.get('retry-after'));
        const waitMs = Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 2000 * attempt, 30_000);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
    return {
      id: `${inputs.domainId}/initiateVerification`,
      outs: { domainId: inputs.domainId, kinds: inputs.kinds, recordsDigest: inputs.recordsDigest },
    };
  },
  async diff(_id: string, olds: DomainVerificationInputs, news: DomainVerificationInputs) {
    const replaces: string[] = [];
    if (olds.domainId !== news.domainId) replaces.push('domainId');
    if (olds.recordsDigest !== news.recordsDigest) replaces.push('recordsDigest');
    if (JSON.stringify(olds.kinds) !== JSON.stringify(news.kinds)) replaces.push('kinds');
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
  },
  async delete() {
    // Nothing to undo: a verification request leaves no object behind.
  },
};

export interface DomainVerificationArgs {
  domainId: pulumi.Input<string>;
  kinds: pulumi.Input<string[]>;
  armToken: pulumi.Input<string>;
  armEndpoint?: pulumi.Input<string>;
  recordsDigest: pulumi.Input<string>;
}

export class DomainVerification extends pulumi.dynamic.Resource {
  constructor(name: string, args: DomainVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      domainVerificationProvider,
      name,
      {
        domainId: args.domainId,
        kinds: args.kinds,
        armToken: pulumi.secret(args.armToken),
        armEndpoint: args.armEndpoint ?? 'https://management.azure.com',
        recordsDigest: args.recordsDigest,
      },
      { ...opts, additionalSecretOutputs: ['armToken'] },
    );
  }
}
