// Microsoft Graph transport (issue 4). Delivers one leg of a spooled message through the sending
// mailbox: small messages as one MIME sendMail (envelope-only recipients added as Bcc:, since Graph
// reads recipients from the content), large ones as a JSON draft + attachments + send
// (graph-draft.ts). Every request goes through graph-client.ts (limiter, token, timeout, Retry-After).
// Failures become outcomes through graph-errors.ts. Touches the network (injected fetch) and reads
// the spool file; never writes the spool.
import { resolveCloud } from '../../config/cloud.ts';
import type { RouteConfig } from '../../config/schema.ts';
import { isRelayError } from '../../errors.ts';
import { fetchRequest } from '../../net/http-request.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  readMessage,
  type Transport,
  type TransportDeps,
  type TransportHealth,
} from '../transport.ts';
import { type Attempt, GraphClient, GraphStepError } from './graph-client.ts';
import { GraphDraftSender } from './graph-draft.ts';
import { classifyGraphFailure } from './graph-errors.ts';
import { MailboxLimiters } from './graph-limiter.ts';
import { graphMailbox } from './graph-mailbox.ts';
import { prepareSendMailMime } from './graph-mime.ts';

export type GraphRouteConfig = Extract<RouteConfig, { type: 'graph' }>;

/** Legs in the engine per mailbox request slot (one sending, one prepared and waiting). */
const PREPARED_PER_SLOT = 2;

export interface GraphTransportOptions {
  /** Share limiters between routes that use the same app and mailboxes. */
  readonly limiters?: MailboxLimiters;
}

export class GraphTransport implements Transport {
  readonly route: string;
  readonly type = 'graph' as const;
  readonly keyConcurrency: number;
  private readonly cfg: GraphRouteConfig;
  private readonly deps: TransportDeps;
  private readonly graphBaseUrl: string;
  private readonly client: GraphClient;
  private readonly draft: GraphDraftSender;
  private readonly limiters: MailboxLimiters;
  private lastAuthProblem: { at: number; reason: string } | undefined;

  constructor(cfg: GraphRouteConfig, deps: TransportDeps, options: GraphTransportOptions = {}) {
    this.route = cfg.name;
    this.cfg = cfg;
    this.deps = deps;
    // The engine may run twice as many legs per mailbox as Graph takes requests: the extra ones read
    // and shape their message while the limiter holds them, so a slot freed by a finished request
    // is taken at once instead of after the next message's spool read (the limiter still lets only
    // mailboxConcurrency requests out).
    this.keyConcurrency = cfg.mailboxConcurrency * PREPARED_PER_SLOT;
    const cloud = deps.cloud ?? resolveCloud({ preset: 'global', requestTimeout: 30_000 });
    this.graphBaseUrl = cloud.graphBaseUrl;
    this.client = new GraphClient({
      route: cfg.name,
      tokens: deps.tokens.forApp({
        tenantId: cfg.tenantId,
        clientId: cfg.clientId,
        ...(cfg.clientSecret === undefined ? {} : { clientSecret: cfg.clientSecret }),
        ...(cfg.clientCertificate === undefined ? {} : { clientCertificate: cfg.clientCertificate }),
        authorityHost: cloud.authorityHost,
      }),
      scope: cloud.graphScope,
      request: deps.request ?? fetchRequest(deps.fetch),
      connectionClosed: deps.connectionClosed,
      now: deps.now,
      logger: deps.logger,
      requestTimeout: cfg.requestTimeout,
      maxRetryAfter: cfg.maxRetryAfter,
      onUnauthorized: (reason) => {
        this.lastAuthProblem = { at: deps.now(), reason };
      },
    });
    this.draft = new GraphDraftSender(this.client, {
      route: cfg.name,
      rewriteFrom: cfg.rewriteFrom,
      requestTimeout: cfg.requestTimeout,
      maxBodySize: cfg.maxBodySize,
      oversizeBody: cfg.oversizeBody,
      logger: deps.logger,
    });
    this.limiters =
      options.limiters ??
      new MailboxLimiters({
        maxConcurrent: cfg.mailboxConcurrency,
        messagesPerMinute: cfg.messagesPerMinute,
        now: deps.now,
      });
  }

  mailboxFor(job: DeliveryJob): string | undefined {
    return graphMailbox(this.cfg, job);
  }

  concurrencyKey(job: DeliveryJob): string | undefined {
    const m = this.mailboxFor(job);
    return m === undefined ? undefined : `${this.cfg.tenantId}|${this.cfg.clientId}|${m.toLowerCase()}`;
  }

  /** Peak concurrent requests any (app, mailbox) reached (bench and tests). */
  get peakConcurrency(): number {
    return this.limiters.peakActive;
  }

  health(): TransportHealth {
    const p = this.lastAuthProblem;
    return p === undefined
      ? { ok: true }
      : { ok: false, detail: `${new Date(p.at).toISOString()}: ${p.reason}` };
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const mailbox = this.mailboxFor(job);
    if (mailbox === undefined) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_NO_MAILBOX',
        reason: 'null envelope sender (a bounce) and no fixed mailbox on the route',
        hint: 'set the route mailbox (or an identity sendAs) to the mailbox that should send such messages',
        fallbackEligible: true,
      };
    }
    if (job.message.length > this.cfg.maxMessageSize) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
        reason: `message is ${job.message.length} bytes; the route's maxMessageSize is ${this.cfg.maxMessageSize}`,
        hint: 'the sending mailbox takes at most its MaxSendSize (35 MB by default, 150 MB at most): raise maxMessageSize with Set-Mailbox -MaxSendSize, or give the route a fallback',
        fallbackEligible: true,
      };
    }
    if (job.recipients.length > this.cfg.maxRecipientsPerMessage) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
        reason: `${job.recipients.length} recipients; one Graph message carries at most ${this.cfg.maxRecipientsPerMessage} (maxRecipientsPerMessage, Exchange Online: 500)`,
        hint: 'give the route a fallback that splits recipients (ACS, SMTP), or send to a distribution list',
        fallbackEligible: true,
      };
    }
    const key = this.concurrencyKey(job) as string;
    const a: Attempt = {
      job,
      mailbox,
      limiter: this.limiters.get(key),
      base: `${this.graphBaseUrl}/users/${encodeURIComponent(mailbox)}`,
      signal: job.signal,
    };
    try {
      const outcome = await this.send(a);
      this.lastAuthProblem = undefined;
      return outcome;
    } catch (err) {
      return this.outcomeOf(err, a);
    }
  }

  private async send(a: Attempt): Promise<DeliveryOutcome> {
    const { job } = a;
    const rewriteFrom = this.cfg.rewriteFrom ? { rewriteFromTo: a.mailbox } : {};
    if (job.message.length <= this.cfg.sendMailMaxSize) {
      const raw = await readMessage(job.message);
      const prepared = prepareSendMailMime(raw, { recipients: job.recipients, ...rewriteFrom });
      if (prepared.foreignRecipients.length === 0) {
        await a.limiter.messageTurn(a.signal);
        await this.client.request(a, 'sendMail', {
          method: 'POST',
          url: `${a.base}/sendMail`,
          // As bytes, not a string: a 14 KB string held for the request's 100 ms or more outlives
          // the young generation and is promoted, which costs the old-generation collector; a
          // Buffer's bytes live outside the JS heap.
          body: Buffer.from(prepared.mime.toString('base64'), 'latin1'),
          contentType: 'text/plain',
          auth: true,
          duplicateRisk: true,
        });
        const bcc =
          prepared.addedBcc.length > 0
            ? `; ${prepared.addedBcc.length} envelope-only recipient(s) as Bcc`
            : '';
        return { kind: 'delivered', detail: `Graph sendMail accepted (202) as ${a.mailbox}${bcc}` };
      }
      // To/Cc name people who are not on this leg (another route or nobody serves them): MIME
      // sendMail would deliver to them too, so send a draft with explicit recipients instead.
      if (!this.cfg.largeMessages) {
        return {
          kind: 'permanent',
          code: 'RELAY_GRAPH_PERMISSION_MISSING',
          reason: `To/Cc name ${prepared.foreignRecipients.length} address(es) outside this delivery; MIME sendMail would send to them too`,
          hint: 'set largeMessages: true (needs Mail.ReadWrite) so Graph sends to this leg only, or route all recipients together',
          fallbackEligible: true,
        };
      }
    } else if (!this.cfg.largeMessages) {
      return {
        kind: 'permanent',
        code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
        reason: `message is ${job.message.length} bytes, over sendMailMaxSize ${this.cfg.sendMailMaxSize}, and largeMessages is off`,
        hint: 'set largeMessages: true (grant Mail.ReadWrite) or give the route a fallback for large messages',
        fallbackEligible: true,
      };
    }
    return this.draft.send(a);
  }

  private outcomeOf(err: unknown, a: Attempt): DeliveryOutcome {
    if (err instanceof GraphStepError) {
      const c = classifyGraphFailure(err.facts);
      if (c.outcome === 'transient') {
        return {
          kind: 'transient',
          code: c.code,
          reason: err.message,
          ...(c.hint === undefined ? {} : { hint: c.hint }),
          ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
          ...(c.possibleDuplicate
            ? {
                possibleDuplicate: true,
                hint: `${c.hint ? `${c.hint}; ` : ''}the request may have been processed: check the mailbox's Sent Items before resending`,
              }
            : {}),
        };
      }
      return {
        kind: 'permanent',
        code: c.code,
        reason: err.message,
        ...(c.hint === undefined ? {} : { hint: c.hint }),
        ...(c.fallbackEligible === undefined ? {} : { fallbackEligible: c.fallbackEligible }),
      };
    }
    if (isRelayError(err)) {
      if (err.code === 'RELAY_TOKEN_FAILED' || err.code === 'RELAY_CREDENTIAL_UNAVAILABLE') {
        this.lastAuthProblem = { at: this.deps.now(), reason: err.message };
      }
      return { kind: 'transient', code: err.code, reason: err.message };
    }
    if (a.signal.aborted) {
      return {
        kind: 'transient',
        code: 'RELAY_DELIVERY_TRANSIENT',
        reason: 'aborted (shutdown)',
        hint: 'shutdown aborted the attempt',
      };
    }
    const message = (err as Error)?.message ?? String(err);
    this.deps.logger.warn({ err, route: this.route, id: a.job.id }, 'Graph delivery failed unexpectedly');
    return { kind: 'transient', code: 'RELAY_DELIVERY_TRANSIENT', reason: message };
  }
}

/**
 * Outlook's limits are per (app, mailbox), not per route: routes of one app share limiters, so two
 * routes sending through the same mailbox still stay within 4 requests at once. The first route of an
 * app sets the pacing; give such routes the same mailboxConcurrency and messagesPerMinute.
 */
const appLimiters = new Map<string, MailboxLimiters>();

export function createGraphTransport(route: GraphRouteConfig, deps: TransportDeps): GraphTransport {
  const key = `${route.tenantId}|${route.clientId}`;
  let limiters = appLimiters.get(key);
  if (limiters === undefined) {
    limiters = new MailboxLimiters({
      maxConcurrent: route.mailboxConcurrency,
      messagesPerMinute: route.messagesPerMinute,
      now: deps.now,
    });
    appLimiters.set(key, limiters);
  }
  return new GraphTransport(route, deps, { limiters });
}
