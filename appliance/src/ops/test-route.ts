// Pre-flight of one route with a real test message, for `relaykit-appliance test-route` and the page's
// "send a test message": (1) token — fetch the route's access token, or read its credential, as the
// transport will; (2) request — deliver a small generated message through the route's own transport
// (not through the spool: the result is reported at once, nothing is queued or retried); (3) remote
// id — what the service answered. The first failing step stops the run and carries the hint.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenSourceFactory } from '../auth/token-source.ts';
import type { ResolvedCloud } from '../config/cloud.ts';
import type { RouteConfig } from '../config/schema.ts';
import type { CredentialStore } from '../credentials/store.ts';
import { ACS_SCOPE } from '../delivery/acs/acs-auth.ts';
import { resolveSmtpRoute } from '../delivery/smtp/smtp-presets.ts';
import type { DeliveryOutcome, Transport } from '../delivery/transport.ts';
import { isRelayError } from '../errors.ts';

export type StepName = 'token' | 'request' | 'remote id';

export interface TestStep {
  readonly step: StepName;
  readonly ok: boolean;
  readonly detail: string;
  readonly code?: string;
  readonly hint?: string;
}

export interface TestRouteReport {
  readonly route: string;
  readonly type: string;
  readonly to: string;
  readonly from: string;
  readonly ok: boolean;
  readonly steps: readonly TestStep[];
}

export interface TestRouteDeps {
  readonly transport: Transport;
  readonly tokens: TokenSourceFactory;
  readonly credentials: CredentialStore;
  readonly cloud: ResolvedCloud;
  readonly hostname: string;
  readonly now: () => number;
  /** Aborts the run (the page's request closed, the CLI got SIGINT). */
  readonly signal?: AbortSignal;
}

type TokenPlan =
  | { kind: 'token'; app: Parameters<TokenSourceFactory['forApp']>[0]; scope: string; what: string }
  | { kind: 'credential'; name: string; what: string }
  | { kind: 'none'; what: string };

/** What step 1 must prove for this route: a token (and for which scope), a readable credential, nothing. */
export function tokenPlan(route: RouteConfig, cloud: ResolvedCloud): TokenPlan {
  if (route.type === 'graph') {
    const app = {
      tenantId: route.tenantId,
      clientId: route.clientId,
      ...(route.clientSecret === undefined ? {} : { clientSecret: route.clientSecret }),
      ...(route.clientCertificate === undefined ? {} : { clientCertificate: route.clientCertificate }),
      authorityHost: cloud.authorityHost,
    };
    return {
      kind: 'token',
      app,
      scope: cloud.graphScope,
      what: `Graph token for app ${route.clientId} in ${route.tenantId}`,
    };
  }
  if (route.type === 'acs') {
    if (route.auth.type === 'entra')
      return {
        kind: 'token',
        app: route.auth.app,
        scope: route.auth.scope ?? ACS_SCOPE,
        what: `ACS token for app ${route.auth.app.clientId}`,
      };
    return {
      kind: 'credential',
      name: route.auth.connectionString,
      what: `ACS access key "${route.auth.connectionString}"`,
    };
  }
  if (route.type === 'smtp') {
    const a = route.auth;
    if (a.type === 'xoauth2')
      return {
        kind: 'token',
        app: a.app,
        scope: resolveSmtpRoute(route).scope,
        what: `XOAUTH2 token for ${a.user}`,
      };
    if (a.type === 'password')
      return { kind: 'credential', name: a.password, what: `password "${a.password}" of ${a.username}` };
    return { kind: 'none', what: 'the smarthost needs no credential' };
  }
  return { kind: 'none', what: 'capture routes need no credential' };
}

/** Hint for a failed token or credential step. */
function tokenHint(plan: TokenPlan, err: unknown): string {
  if (plan.kind === 'credential' || (isRelayError(err) && err.code === 'RELAY_CREDENTIAL_UNAVAILABLE'))
    return 'the credential reference cannot be read: check `credentials:` in the config (file present, environment variable set, Key Vault reachable)';
  return 'Entra refused or could not be reached: check tenant id, client id and the client secret or certificate (an expired secret answers invalid_client), and the proxy settings under `cloud:`';
}

function message(from: string, to: string, route: string, hostname: string, now: number): string {
  const id = `<${randomUUID()}@${hostname}>`;
  return [
    `From: relaykit test <${from}>`,
    `To: <${to}>`,
    `Subject: relaykit test through route ${route}`,
    `Date: ${new Date(now).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${id}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Auto-Submitted: auto-generated',
    '',
    `This is a test message sent by the relaykit appliance ${hostname} through route "${route}".`,
    'No reply is needed.',
    '',
  ].join('\r\n');
}

function failure(
  step: StepName,
  outcome: Extract<DeliveryOutcome, { kind: 'transient' | 'permanent' }>,
): TestStep {
  return {
    step,
    ok: false,
    detail: outcome.reason,
    code: outcome.code,
    ...(outcome.hint === undefined ? {} : { hint: outcome.hint }),
  };
}

/** Default sender of a test message: the route's fixed mailbox, else one at the appliance's name. */
export function defaultTestSender(route: RouteConfig, hostname: string): string {
  if (route.type === 'graph' && route.mailbox !== undefined) return route.mailbox;
  if (route.type === 'acs' && route.provisionedSenders[0] !== undefined) return route.provisionedSenders[0];
  return `relaykit-test@${hostname}`;
}

export async function testRoute(
  route: RouteConfig,
  to: string,
  deps: TestRouteDeps,
  from = defaultTestSender(route, deps.hostname),
): Promise<TestRouteReport> {
  const steps: TestStep[] = [];
  const done = (ok: boolean): TestRouteReport => ({
    route: route.name,
    type: route.type,
    to,
    from,
    ok,
    steps,
  });
  const plan = tokenPlan(route, deps.cloud);
  try {
    if (plan.kind === 'token')
      await deps.tokens.forApp(plan.app).getToken(plan.scope, deps.signal ? { signal: deps.signal } : {});
    if (plan.kind === 'credential') await deps.credentials.get(plan.name);
    steps.push({ step: 'token', ok: true, detail: plan.kind === 'none' ? plan.what : `${plan.what}: ok` });
  } catch (err) {
    steps.push({
      step: 'token',
      ok: false,
      detail: `${plan.what}: ${(err as Error).message}`,
      code: isRelayError(err) ? err.code : 'RELAY_TOKEN_FAILED',
      hint: tokenHint(plan, err),
    });
    return done(false);
  }
  const now = deps.now();
  const dir = await mkdtemp(join(tmpdir(), 'relaykit-test-route-'));
  try {
    const body = Buffer.from(message(from, to, route.name, deps.hostname, now));
    const path = join(dir, 'test.eml');
    await writeFile(path, body);
    const outcome = await deps.transport.deliver({
      id: `test-${now.toString(36)}`,
      leg: 0,
      mailFrom: from,
      recipients: [to],
      identity: 'operator-test',
      attempt: 1,
      receivedAt: now,
      message: { path, offset: 0, length: body.length },
      idempotencyKey: randomUUID(),
      signal: deps.signal ?? new AbortController().signal,
    });
    if (outcome.kind !== 'delivered') {
      steps.push(failure('request', outcome));
      return done(false);
    }
    const refused = outcome.failedRecipients?.[0];
    if (refused) {
      steps.push({ step: 'request', ok: false, detail: refused.reason, code: refused.code });
      return done(false);
    }
    steps.push({ step: 'request', ok: true, detail: outcome.detail });
    steps.push({
      step: 'remote id',
      ok: true,
      detail: outcome.remoteId ?? '(the service returns no id for a message on this route)',
    });
    return done(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
