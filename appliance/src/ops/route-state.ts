// Route state, judged from the delivery engine's attempt outcomes (never from inside a transport):
//   ok        the last attempt delivered, or nothing was tried yet
//   degraded  recent attempts fail for reasons that may pass (throttling, a 5xx, one timeout)
//   failing   the route cannot work until someone acts: credential missing, credentials or
//             permission rejected, or the service unreachable several attempts in a row
// Per-message failures (a recipient refused, a message too large) say nothing about the route.
// Pure bookkeeping with an injected clock; the caller is told of every change.
import type { ErrorCode } from '../errors.ts';

export const RouteState = { ok: 'ok', degraded: 'degraded', failing: 'failing' } as const;
export type RouteState = (typeof RouteState)[keyof typeof RouteState];

/** Codes that mean "this route cannot work as configured", whatever the message. */
const CONFIG_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RELAY_CREDENTIAL_UNAVAILABLE',
  'RELAY_TOKEN_FAILED',
  'RELAY_GRAPH_TOKEN_REJECTED',
  'RELAY_GRAPH_PERMISSION_MISSING',
  'RELAY_GRAPH_ACCESS_DENIED',
  'RELAY_GRAPH_MAILBOX_NOT_ENABLED',
  'RELAY_ACS_AUTH_FAILED',
  'RELAY_ACS_SENDER_NOT_ALLOWED',
  'RELAY_SMTP_AUTH_FAILED',
  'RELAY_SMTP_TLS',
  'RELAY_SMTP_DIRECT_SEND_REJECTED',
  'RELAY_ROUTE_UNKNOWN',
]);

/** Codes that mean "we could not reach the service"; several in a row make the route failing. */
const REACH_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['RELAY_NETWORK', 'RELAY_TIMEOUT']);

/** Consecutive unreachable attempts before a route counts as failing rather than degraded. */
export const UNREACHABLE_AFTER = 3;

/** Hints for the operator when a failure carries none of its own. */
const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  RELAY_CREDENTIAL_UNAVAILABLE:
    'the credential this route names cannot be read: set the environment variable, create the file or check the Key Vault secret, then run `relaykit-appliance check --online`',
  RELAY_TOKEN_FAILED:
    'Entra ID refused the app credentials: check tenantId, clientId and the client secret or certificate (expired or rotated?)',
  RELAY_NETWORK:
    'the service cannot be reached: check DNS, the outbound proxy (cloud.proxy) and the firewall',
  RELAY_TIMEOUT: 'the service did not answer in time: check the network path and the outbound proxy',
};

export interface RouteAttempt {
  readonly route: string;
  readonly outcome: 'delivered' | 'transient' | 'permanent';
  readonly code?: ErrorCode;
  readonly reason: string;
  readonly hint?: string;
  readonly at: number;
}

export interface RouteStatus {
  readonly name: string;
  readonly type: string;
  readonly state: RouteState;
  /** Why it is not ok: the last failure's code and message. */
  readonly code?: ErrorCode;
  readonly reason?: string;
  /** What the operator can do about it. */
  readonly hint?: string;
  /** Epoch ms the route entered this state. */
  readonly since: number;
  readonly lastAttemptAt?: number;
  readonly lastDeliveredAt?: number;
  readonly consecutiveFailures: number;
}

export interface RouteChange {
  readonly route: string;
  readonly from: RouteState;
  readonly to: RouteState;
  readonly status: RouteStatus;
}

interface Track {
  status: RouteStatus;
  unreachable: number;
}

export class RouteStateTracker {
  private readonly routes = new Map<string, Track>();
  private readonly onChange: (change: RouteChange) => void;

  constructor(
    routes: readonly { readonly name: string; readonly type: string }[],
    now: number,
    onChange: (change: RouteChange) => void = () => {},
  ) {
    this.onChange = onChange;
    for (const r of routes) {
      this.routes.set(r.name, {
        status: { name: r.name, type: r.type, state: 'ok', since: now, consecutiveFailures: 0 },
        unreachable: 0,
      });
    }
  }

  observe(a: RouteAttempt): void {
    let t = this.routes.get(a.route);
    if (!t) {
      t = {
        status: { name: a.route, type: 'unknown', state: 'ok', since: a.at, consecutiveFailures: 0 },
        unreachable: 0,
      };
      this.routes.set(a.route, t);
    }
    const prev = t.status;
    if (a.outcome === 'delivered') {
      t.unreachable = 0;
      this.set(t, {
        name: prev.name,
        type: prev.type,
        state: 'ok',
        since: prev.state === 'ok' ? prev.since : a.at,
        lastAttemptAt: a.at,
        lastDeliveredAt: a.at,
        consecutiveFailures: 0,
      });
      return;
    }
    const code = a.code;
    const configFailure = code !== undefined && CONFIG_FAILURES.has(code);
    if (a.outcome === 'permanent' && !configFailure) {
      // A message problem: the route answered, so it is reachable and its credentials work.
      t.unreachable = 0;
      this.set(t, { ...prev, lastAttemptAt: a.at });
      return;
    }
    t.unreachable = code !== undefined && REACH_FAILURES.has(code) ? t.unreachable + 1 : 0;
    const state: RouteState = configFailure || t.unreachable >= UNREACHABLE_AFTER ? 'failing' : 'degraded';
    const hint = a.hint ?? (code === undefined ? undefined : DEFAULT_HINTS[code]);
    this.set(t, {
      name: prev.name,
      type: prev.type,
      state,
      ...(code === undefined ? {} : { code }),
      reason: a.reason,
      ...(hint === undefined ? {} : { hint }),
      since: prev.state === state ? prev.since : a.at,
      lastAttemptAt: a.at,
      ...(prev.lastDeliveredAt === undefined ? {} : { lastDeliveredAt: prev.lastDeliveredAt }),
      consecutiveFailures: prev.consecutiveFailures + 1,
    });
  }

  get(route: string): RouteStatus | undefined {
    return this.routes.get(route)?.status;
  }

  all(): RouteStatus[] {
    return [...this.routes.values()].map((t) => t.status);
  }

  private set(t: Track, next: RouteStatus): void {
    const from = t.status.state;
    t.status = next;
    if (from !== next.state) this.onChange({ route: next.name, from, to: next.state, status: next });
  }
}
