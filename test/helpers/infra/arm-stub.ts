// Test helper: a loopback stand-in for the Azure Resource Manager calls relaykit's dynamic providers
// make — bearer auth (401 AuthenticationFailed), api-version required (400), 404 ResourceNotFound
// for unknown IDs, 429 + Retry-After on demand; an ACS Email domain with verification states and
// POST initiateVerification (202; 400 for a type the domain refuses); a Communication Service whose
// PATCH of linkedDomains refuses an unverified domain as ACS does; resource-provider GET/register.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SUB = '2c4d6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f';
const RG = `/subscriptions/${SUB}/resourceGroups/rg-relaykit-fabrikam/providers/Microsoft.Communication`;
export const DOMAIN = `${RG}/emailServices/acs-email-rk-fabrikam/domains/notify.fabrikam.com`;
export const SERVICE = `${RG}/communicationServices/acs-rk-fabrikam-f051`;
export const TOKEN = 'good-token';

export interface ArmState {
  /** Verification status per record type ("Domain", "SPF", …). */
  states: Record<string, string>;
  /** Types the domain refuses to verify (answered 400). */
  refuse: Set<string>;
  linkedDomains: string[];
  providers: Record<string, string>;
  /** Calls answered 429 before the next real answer. */
  throttleNext: number;
  /** Every accepted call: "METHOD path [body]". */
  seen: string[];
}

export interface ArmStub {
  readonly endpoint: string;
  readonly state: ArmState;
  reset(): void;
  close(): Promise<void>;
}

const KEY: Record<string, string> = {
  Domain: 'domain',
  SPF: 'sPF',
  DKIM: 'dKIM',
  DKIM2: 'dKIM2',
  DMARC: 'dMARC',
};

function fresh(): ArmState {
  return {
    states: {
      Domain: 'NotStarted',
      SPF: 'NotStarted',
      DKIM: 'NotStarted',
      DKIM2: 'NotStarted',
      DMARC: 'NotStarted',
    },
    refuse: new Set(),
    linkedDomains: [],
    providers: { 'Microsoft.KeyVault': 'Registered', 'Microsoft.Communication': 'NotRegistered' },
    throttleNext: 0,
    seen: [],
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
const armError = (res: ServerResponse, status: number, code: string, message: string, headers = {}) =>
  json(res, status, { error: { code, message } }, headers);

export async function startArmStub(): Promise<ArmStub> {
  let state = fresh();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? '/', 'http://arm');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      return armError(res, 401, 'AuthenticationFailed', "The 'Authorization' header is missing or invalid.");
    }
    if (!url.searchParams.has('api-version')) {
      return armError(
        res,
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required.',
      );
    }
    if (state.throttleNext > 0) {
      state.throttleNext--;
      return armError(res, 429, 'TooManyRequests', 'throttled', { 'retry-after': '1' });
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    state.seen.push(`${method} ${path}${body === '' ? '' : ` ${body}`}`);
    if (path === `${DOMAIN}/initiateVerification` && method === 'POST') {
      const type = (JSON.parse(body || '{}') as { verificationType?: string }).verificationType ?? '';
      if (!(type in KEY))
        return armError(
          res,
          400,
          'InvalidRequestContent',
          'verificationType must be Domain, SPF, DKIM, DKIM2 or DMARC',
        );
      if (state.refuse.has(type)) return armError(res, 400, 'BadRequest', `${type} record not found`);
      state.states[type] = 'VerificationRequested';
      return json(res, 202, undefined, { location: 'http://arm/operations/1', 'retry-after': '60' });
    }
    if (path === DOMAIN && method === 'GET') {
      const verificationStates = Object.fromEntries(
        Object.entries(state.states).map(([k, v]) => [KEY[k], { status: v, errorCode: '' }]),
      );
      return json(res, 200, { id: DOMAIN, properties: { verificationStates } });
    }
    if (path === SERVICE && method === 'GET') {
      return json(res, 200, { id: SERVICE, properties: { linkedDomains: state.linkedDomains } });
    }
    if (path === SERVICE && method === 'PATCH') {
      const wanted = (JSON.parse(body) as { properties: { linkedDomains: string[] } }).properties
        .linkedDomains;
      const ours = wanted.find((d) => d.toLowerCase() === DOMAIN.toLowerCase());
      const unverified = Object.entries(state.states).filter(([k, v]) => k !== 'DMARC' && v !== 'Verified');
      if (ours !== undefined && !state.linkedDomains.includes(ours) && unverified.length > 0) {
        return armError(
          res,
          400,
          'DomainNotVerified',
          'The domain must be verified before it can be linked.',
        );
      }
      state.linkedDomains = wanted;
      return json(res, 200, { id: SERVICE, properties: { linkedDomains: wanted } });
    }
    const provider = /^\/subscriptions\/([^/]+)\/providers\/([^/]+)(\/register)?$/.exec(path);
    if (provider !== null && provider[1] === SUB) {
      const ns = provider[2] ?? '';
      if (provider[3] !== undefined && method === 'POST') {
        if (ns === 'Microsoft.Forbidden')
          return armError(
            res,
            403,
            'AuthorizationFailed',
            'does not have authorization to perform action register',
          );
        state.providers[ns] = 'Registered';
        return json(res, 200, { namespace: ns, registrationState: 'Registering' });
      }
      return json(res, 200, { namespace: ns, registrationState: state.providers[ns] ?? 'NotRegistered' });
    }
    return armError(res, 404, 'ResourceNotFound', `The Resource '${path}' was not found.`);
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get state() {
      return state;
    },
    reset() {
      state = fresh();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
