// infra/ room: the few Azure Resource Manager calls azure-native has no resource for (domain
// verification, the additive domain link, resource-provider registration), made from dynamic
// providers. The token is fetched inside the provider at run time with the operator's own Azure
// credentials (az login, environment, managed identity), so no ARM token is ever a resource input
// and nothing of it lands in the Pulumi state. These functions are serialised into the state as
// source text by Pulumi: they use only globals and `require` (which the dynamic-provider host
// gives serialised code), never imports.

/** Gets an ARM bearer token for a tenant. Injected in tests; `armToken` is the real one. */
export type ArmTokenSource = (tenantId: string) => Promise<string>;

/** The real token source: @azure/identity's DefaultAzureCredential, pinned to the stack's tenant. */
export async function armToken(tenantId: string): Promise<string> {
  const identity = require('@azure/identity') as typeof import('@azure/identity');
  const credential = new identity.DefaultAzureCredential({ tenantId });
  const token = await credential.getToken('https://management.azure.com/.default', { tenantId });
  return token.token;
}

export interface ArmResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/**
 * One ARM request with a timeout; 429 and 5xx are retried (bounded, honouring Retry-After up to 30 s)
 * and then returned like any other status for the caller to judge.
 */
export async function armRequest(
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  url: string,
  body?: unknown,
): Promise<ArmResponse> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    const retryable = res.status === 429 || res.status >= 500;
    if (!retryable || attempt >= 4) {
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text: text.slice(0, 500) };
    }
    const after = Number(res.headers.get('retry-after'));
    const waitMs = Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 2000 * attempt, 30_000);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}
