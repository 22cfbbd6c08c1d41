// Graph transport, the HTTP client: one Graph request through the (app, mailbox) limiter with a bearer
// token (refreshed once on 401), a timeout tied to the job's abort signal, and Retry-After honoured on
// 429/503 (every request of that mailbox holds off, then ramps back up in the limiter); a request
// whose timeout fired keeps its limiter slot while Graph may still work on it: until it is answered,
// or cut at twice the timeout and its connection has closed. A failure leaves as
// a GraphStepError carrying the facts graph-errors.ts judges. Touches the network only through the
// injected request (net/http-request.ts).
import type { TokenSource } from '../../auth/token-source.ts';
import type { Logger } from '../../log.ts';
import { errnoOf, parseRetryAfter, timedSignal } from '../../net/http-failure.ts';
import type { HttpAnswer, HttpRequest } from '../../net/http-request.ts';
import type { FailureFacts } from '../failure.ts';
import type { DeliveryJob } from '../transport.ts';
import type { HoldSlot, MailboxLimiter } from './graph-limiter.ts';

const MAX_THROTTLE_RETRIES = 4;

export /** A failed Graph step, described as facts for the classification table. */
class GraphStepError extends Error {
  readonly facts: FailureFacts;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, facts: FailureFacts, retryAfterMs?: number) {
    super(message);
    this.facts = facts;
    this.retryAfterMs = retryAfterMs;
  }
}

/** One delivery attempt's Graph context: the job, its mailbox and that mailbox's limiter. */
export interface Attempt {
  readonly job: DeliveryJob;
  readonly mailbox: string;
  readonly limiter: MailboxLimiter;
  /** https://graph.../v1.0/users/{mailbox} */
  readonly base: string;
  readonly signal: AbortSignal;
}

export interface GraphRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Upload URLs are pre-authenticated: no Authorization header. */
  readonly auth: boolean;
  /** The service may act on it even if we see a failure (sendMail, send). */
  readonly duplicateRisk?: boolean;
}

export interface GraphResponse {
  readonly status: number;
  readonly text: string;
}

export function graphError(text: string): { code?: string; message?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return {
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.message === 'string' ? { message: e.message } : {}),
    };
  } catch {
    return {};
  }
}

export interface GraphClientOptions {
  readonly route: string;
  readonly tokens: TokenSource;
  readonly scope: string;
  readonly request: HttpRequest;
  /** After an aborted request: resolves when its connection has closed (TransportDeps). */
  readonly connectionClosed?: ((url: string, limitMs: number) => Promise<void>) | undefined;
  readonly now: () => number;
  readonly logger: Logger;
  /** Per-request timeout and the longest Retry-After waited for in place (route config). */
  readonly requestTimeout: number;
  readonly maxRetryAfter: number;
  /** Told about a 401 that a fresh token did not cure (for the route's health). */
  readonly onUnauthorized: (reason: string) => void;
}

export class GraphClient {
  private readonly o: GraphClientOptions;

  constructor(options: GraphClientOptions) {
    this.o = options;
  }

  /** One Graph request: limiter, token (refreshed once on 401), timeout, Retry-After on 429/503. */
  async request(a: Attempt, op: string, r: GraphRequest): Promise<GraphResponse> {
    let forceRefresh = false;
    let tokenRetried = false;
    let throttled = 0;
    for (;;) {
      let pausedFor: number | undefined;
      const res = await a.limiter.run(async (hold) => {
        const value = await this.once(a, op, r, forceRefresh, hold);
        if ((value.status === 429 || value.status === 503) && throttled < MAX_THROTTLE_RETRIES) {
          const wait = parseRetryAfter(value.header('retry-after'), this.o.now());
          const delay = Math.min(wait ?? 1000 * 2 ** throttled, this.o.maxRetryAfter + 1);
          // Every request for this mailbox holds off, not just this one: paused before this slot is
          // released, so no waiter takes it in between.
          if (delay <= this.o.maxRetryAfter) {
            a.limiter.pause(delay);
            pausedFor = delay;
          }
        }
        return { value, ok: value.status >= 200 && value.status < 300 };
      }, a.signal);
      if (pausedFor !== undefined) {
        throttled += 1;
        this.o.logger.debug(
          { route: this.o.route, op, status: res.status, delay: pausedFor },
          'Graph throttled; waiting',
        );
        continue;
      }
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 401 && r.auth && !tokenRetried) {
        tokenRetried = true;
        forceRefresh = true;
        continue;
      }
      const wait = parseRetryAfter(res.header('retry-after'), this.o.now());
      const err = graphError(res.text);
      const facts: FailureFacts = {
        transport: 'graph',
        httpStatus: res.status,
        operation: op,
        requestSent: r.duplicateRisk === true,
        ...(err.code === undefined ? {} : { serviceCode: err.code }),
        ...(err.message === undefined ? {} : { message: err.message }),
      };
      if (res.status === 401) this.o.onUnauthorized(`${op}: 401 ${err.message ?? ''}`);
      const what = `${op}: HTTP ${res.status}${err.code ? ` ${err.code}` : ''}${err.message ? `: ${err.message}` : ''} (mailbox ${a.mailbox})`;
      throw new GraphStepError(what, facts, wait);
    }
  }

  private async once(
    a: Attempt,
    op: string,
    r: GraphRequest,
    forceRefresh: boolean,
    hold: HoldSlot,
  ): Promise<GraphResponse & Pick<HttpAnswer, 'header'>> {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.auth) {
      headers.authorization = `Bearer ${await this.o.tokens.getToken(this.o.scope, { forceRefresh, signal: a.signal })}`;
    }
    // Our request timeout ends the attempt, not the request: Graph goes on working on a request
    // whose client has stopped waiting and counts it against the mailbox until it is done. So the
    // request is left to finish (its answer or its connection's end frees the slot) and is cut only
    // at twice the timeout or when the job is aborted — and then keeps its slot until its
    // connection has closed.
    const hard = timedSignal(a.signal, 2 * this.o.requestTimeout);
    const call = this.o.request(r.url, {
      method: r.method,
      headers,
      ...(r.body === undefined ? {} : { body: r.body }),
      signal: hard.signal,
    });
    // The hard cut stays armed while the request runs, past our own timeout too.
    call.then(hard.dispose, hard.dispose);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'TIMEOUT'>((resolve) => {
      timer = setTimeout(() => resolve('TIMEOUT'), this.o.requestTimeout);
    });
    try {
      const first = await Promise.race([call, timedOut]);
      if (first !== 'TIMEOUT') return first;
      hold(this.settled(call, hard, r.url));
      throw new RequestTimeout();
    } catch (err) {
      const errno = err instanceof RequestTimeout ? 'TIMEOUT' : (errnoOf(err, hard) ?? 'ECONNRESET');
      if (!(err instanceof RequestTimeout) && hard.signal.aborted) hold(this.settled(call, hard, r.url));
      const sent = r.duplicateRisk === true && errno !== 'ECONNREFUSED' && errno !== 'ABORT';
      throw new GraphStepError(
        `${op}: ${errno === 'TIMEOUT' ? `no answer within ${this.o.requestTimeout} ms` : errno} (mailbox ${a.mailbox})`,
        {
          transport: 'graph',
          errno,
          operation: op,
          requestSent: sent,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves when a request left running is over: answered, failed, or — when it was aborted — its
   * connection has closed (the service counts it until then).
   */
  private async settled(
    call: Promise<unknown>,
    hard: ReturnType<typeof timedSignal>,
    url: string,
  ): Promise<void> {
    await call.catch(() => undefined);
    if (hard.signal.aborted && this.o.connectionClosed !== undefined)
      await this.o.connectionClosed(url, this.o.requestTimeout);
  }
}

/** Our request timeout fired while the request goes on (graph-client once()). */
class RequestTimeout extends Error {}
