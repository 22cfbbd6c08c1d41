// Receiving room, the DATA path: what happens between "354" and the reply, as named steps in order —
//   1. streamBody     stream and size limits: the client's bytes through the content pass into the
//                     spool file, storing nothing more once a limit or a write has failed;
//   2. checkMessage   size and header checks: lost connection, failed write, too large, a header
//                     the content pass refused — each the RelayError (and reply code) to answer;
//   3. planRoute      routing plan: the router's decision, whether its routes can carry the message,
//                     and the delivery legs;
//   4. spoolHeaderFor spool write: the record committed (fsynced) before anything is acknowledged;
//   5. queuedReply    reply: the 250 text, only after the commit.
// receiveData runs them for one message; each step is exported so tests can drive it alone. Reads
// config, routing and spool; never talks to delivery.
import type { Readable } from 'node:stream';
import type { IdentityConfig, ListenerConfig } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import {
  type CompiledRules,
  type RouteInput,
  type RoutingDecision,
  rejectionError,
  routeMessage,
} from '../routing/router.ts';
import type { Delivery, MessageSource, SpoolHeader } from '../spool/record.ts';
import type { Spool, SpoolEntry, SpoolWriter } from '../spool/spool.ts';
import type { CarryCheck } from './carry-check.ts';
import { ContentNormalizer } from './content.ts';
import { HeaderBlock, type HeaderField, headerValue } from './header-block.ts';
import { planDeliveries } from './plan.ts';
import { decide, decisionError, type IdentityPolicy } from './policy.ts';
import type { SessionState } from './session-state.ts';
import { receivedHeader, rfc5322Date } from './trace-header.ts';

/** Largest header block kept for routing and operator views. */
export const HEADER_BLOCK_LIMIT = 256 * 1024;

/** One message's facts, fixed when DATA starts. */
export interface DataContext {
  readonly listener: ListenerConfig;
  readonly identity: IdentityConfig;
  readonly policy: IdentityPolicy;
  readonly session: Readonly<SessionState>;
  readonly id: string;
  readonly hostname: string;
  /** Envelope sender after the identity's rewrite ("" for the null sender). */
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly heloName?: string;
  /** EHLO rather than HELO. */
  readonly esmtp: boolean;
  readonly secure: boolean;
  /** Cipher and protocol of a TLS session. */
  readonly tls?: { readonly name: string; readonly version: string };
}

/** The Received: trace header prepended to the stored message. */
export function traceHeaderFor(ctx: DataContext, now: Date): Buffer {
  const s = ctx.session;
  return Buffer.from(
    receivedHeader({
      ...(ctx.heloName === undefined ? {} : { heloName: ctx.heloName }),
      sourceIp: s.ip,
      hostname: ctx.hostname,
      id: ctx.id,
      esmtp: ctx.esmtp,
      tls: ctx.secure,
      authenticated: s.authUser !== undefined || s.via === 'certificate',
      ...(ctx.tls ? { tlsProtocol: s.tlsProtocol ?? ctx.tls.version, tlsCipher: ctx.tls.name } : {}),
      ...(ctx.rcptTo.length === 1 ? { recipient: ctx.rcptTo[0] as string } : {}),
      date: now,
    }),
    'latin1',
  );
}

/** The content pass for this message: the listener's limits and the identity's sender rewrite. */
export function contentFor(ctx: DataContext, now: Date): ContentNormalizer {
  const l = ctx.listener;
  return new ContentNormalizer({
    bareLineEndings: l.content.bareLineEndings,
    maxHeaderSize: l.content.maxHeaderSize,
    maxLineLength: l.content.maxLineLength,
    addMissingHeaders: l.content.addMissingHeaders,
    ...(ctx.policy.rewriteSender === undefined ? {} : { rewriteFrom: ctx.policy.rewriteSender }),
    defaultFrom: ctx.mailFrom || `MAILER-DAEMON@${ctx.hostname}`,
    messageId: `<${ctx.id}@${ctx.hostname}>`,
    date: rfc5322Date(now),
  });
}

/** Where step 1 stores the bytes: the spool writer, or anything with the same two calls. */
export interface BodySink {
  write(part: Buffer): Promise<void>;
  abort(): Promise<void>;
}

/** smtp-server's DATA stream: a Readable that flags a message over the listener's SIZE. */
export type DataStream = Readable & { readonly sizeExceeded?: boolean };

export interface StreamOutcome {
  /** The client went away mid-DATA (a stream error, or no final dot). */
  readonly lost: boolean;
  readonly streamError?: Error;
  /** Over the listener's SIZE or the identity's maxMessageSize. */
  readonly tooLarge: boolean;
  /** The spool could not be written (no sink, or a write failed and the sink was aborted). */
  readonly writeFailed: boolean;
  readonly failure?: unknown;
}

/**
 * Step 1, stream and size limits. Drains `stream` to the final dot whatever happens (a client
 * mid-DATA must see a reply, not a stall), passing chunks through `content` into `sink` and `headers`
 * until a limit is passed or a write fails. `failure` is an earlier failure (opening the entry).
 */
export async function streamBody(
  stream: DataStream,
  content: ContentNormalizer,
  headers: HeaderBlock,
  sink: BodySink | undefined,
  maxMessageSize: number,
  failure?: unknown,
): Promise<StreamOutcome> {
  let failed = failure;
  let tooLarge = false;
  const spoolOut = async (parts: Buffer[]) => {
    for (const part of parts) {
      if (failed !== undefined || sink === undefined) return;
      headers.push(part);
      try {
        await sink.write(part);
      } catch (err) {
        failed = err;
        await sink.abort();
      }
    }
  };
  let streamError: Error | undefined;
  stream.once('error', (err) => {
    streamError = err;
  });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Past a limit or a failure, keep draining to the final dot without storing anything.
      if (failed !== undefined || sink === undefined || tooLarge) continue;
      if (stream.sizeExceeded || content.bytesIn + chunk.length > maxMessageSize) {
        tooLarge = true;
        continue;
      }
      await spoolOut(content.push(chunk));
    }
  } catch (err) {
    streamError ??= err as Error;
  }
  const lost = streamError !== undefined || !stream.readableEnded;
  if (!lost && !tooLarge && failed === undefined) await spoolOut(content.end());
  return {
    lost,
    ...(streamError === undefined ? {} : { streamError }),
    tooLarge,
    writeFailed: failed !== undefined || sink === undefined,
    ...(failed === undefined ? {} : { failure: failed }),
  };
}

/**
 * Step 2, size and header checks: the refusal for what step 1 saw, in order of precedence (lost
 * connection, failed write, size, a header the content pass refused); undefined when the message
 * may go on. Pure.
 */
export function checkMessage(
  outcome: StreamOutcome,
  content: Pick<ContentNormalizer, 'bytesIn' | 'violation'>,
  policy: IdentityPolicy,
  listener: string,
): RelayError | undefined {
  if (outcome.lost) {
    // Nothing was acknowledged, so nothing may remain.
    return new RelayError('RELAY_SPOOL_WRITE', 'connection lost during DATA', { cause: outcome.streamError });
  }
  if (outcome.writeFailed) {
    return new RelayError('RELAY_SPOOL_WRITE', 'Insufficient system storage; try again later', {
      cause: outcome.failure,
    });
  }
  if (outcome.tooLarge) {
    const d = decide(policy, {
      stage: 'data',
      size: Math.max(content.bytesIn + 1, policy.maxMessageSize + 1),
    });
    return d.kind === 'accept' ? new RelayError('RELAY_MESSAGE_TOO_LARGE') : decisionError(d);
  }
  const v = content.violation;
  if (v) {
    return new RelayError(v.code, v.message.replace(/^\d\.\d+\.\d+ /, ''), {
      detail: { rule: `listeners.${listener}.content` },
    });
  }
  return undefined;
}

export interface RoutePlan {
  readonly decision: RoutingDecision;
  readonly deliveries: Delivery[];
}

/**
 * Step 3, routing plan: routes the message, refuses it when no recipient is routed or when a leg's
 * routes cannot carry it (throws the RelayError to answer), and returns the delivery legs.
 */
export async function planRoute(
  rules: CompiledRules,
  carry: Pick<CarryCheck, 'refusal'>,
  input: RouteInput,
  identity: Pick<IdentityConfig, 'sendAs'>,
  receivedAt: number,
  contentSoFar: () => Promise<MessageSource>,
): Promise<RoutePlan> {
  const decision = routeMessage(rules, input);
  const routed = decision.legs.reduce((n, leg) => n + leg.recipients.length, 0);
  if (routed === 0) {
    const r = decision.rejections[0];
    throw r ? rejectionError(r) : new RelayError('RELAY_RULE_REJECTED');
  }
  const cannotCarry = await carry.refusal(decision.legs, input.size, contentSoFar);
  if (cannotCarry !== undefined) throw cannotCarry;
  return { decision, deliveries: planDeliveries(decision, identity, receivedAt) };
}

/** Step 4, spool write: the record committed with the message. Pure. */
export function spoolHeaderFor(
  ctx: DataContext,
  deliveries: Delivery[],
  receivedAt: number,
  messageId: string | undefined,
  subject: string | undefined,
): SpoolHeader {
  const s = ctx.session;
  return {
    version: 1,
    id: ctx.id,
    receivedAt,
    // The identity's sender rewrite lands here, so every delivery leg uses it.
    envelope: { mailFrom: ctx.mailFrom, rcptTo: [...ctx.rcptTo] },
    identity: ctx.identity.name,
    ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
    sourceIp: s.ip,
    listener: ctx.listener.name,
    ...(ctx.heloName ? { heloName: String(ctx.heloName).slice(0, 255) } : {}),
    ...(ctx.tls ? { tls: { protocol: s.tlsProtocol ?? ctx.tls.version, cipher: ctx.tls.name } } : {}),
    ...(messageId === undefined ? {} : { messageId: messageId.slice(0, 998) }),
    ...(subject === undefined ? {} : { subject: subject.slice(0, 998) }),
    deliveries,
  };
}

/** Step 5, reply: the 250 text smtp-server sends after a committed entry. */
export function queuedReply(id: string): string {
  return `2.0.0 Ok: queued as ${id}`;
}

export interface DataPathDeps {
  readonly spool: Spool;
  readonly rules: CompiledRules;
  readonly carry: Pick<CarryCheck, 'refusal'>;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly onAccepted: (entry: SpoolEntry) => void;
  readonly now: () => number;
}

/** Steps 1–4 for one message; resolves with the committed entry's id, or throws the refusal. */
export async function receiveData(deps: DataPathDeps, ctx: DataContext, stream: DataStream): Promise<string> {
  const { id, session: s } = ctx;
  let writer: SpoolWriter | undefined;
  let failure: unknown;
  try {
    writer = await deps.spool.begin(id);
    await writer.write(traceHeaderFor(ctx, new Date(deps.now())));
  } catch (err) {
    failure = err;
  }
  const content = contentFor(ctx, new Date(deps.now()));
  const headers = new HeaderBlock(HEADER_BLOCK_LIMIT);
  const outcome = await streamBody(stream, content, headers, writer, ctx.policy.maxMessageSize, failure);
  const refusal = checkMessage(outcome, content, ctx.policy, ctx.listener.name);
  if (refusal !== undefined || writer === undefined) {
    await writer?.abort();
    throw refusal ?? new RelayError('RELAY_SPOOL_WRITE');
  }
  if (content.bareLineEndings > 0 || content.changes.length > 0) {
    deps.logger.info(
      {
        listener: ctx.listener.name,
        ip: s.ip,
        identity: ctx.identity.name,
        id,
        bareLineEndingsNormalized: content.bareLineEndings,
        changes: content.changes,
      },
      'smtp: message content repaired',
    );
  }

  const fields: HeaderField[] = headers.fields();
  const receivedAt = deps.now();
  const sink = writer;
  let plan: RoutePlan;
  try {
    plan = await planRoute(
      deps.rules,
      deps.carry,
      {
        identity: ctx.identity.name,
        sourceIp: s.ip,
        ...(s.authUser === undefined ? {} : { authUser: s.authUser }),
        mailFrom: ctx.mailFrom,
        recipients: ctx.rcptTo,
        size: sink.bytes,
        headers: fields,
      },
      ctx.identity,
      receivedAt,
      () => sink.contentSoFar(),
    );
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const messageId = content.messageIdHeader ?? headerValue(fields, 'message-id');
  const subject = headerValue(fields, 'subject');
  const entry = await sink.commit(spoolHeaderFor(ctx, plan.deliveries, receivedAt, messageId, subject));
  deps.metrics.inc('relaykit_accepted_total', { listener: ctx.listener.name });
  deps.spool.trace({
    id,
    event: 'received',
    identity: ctx.identity.name,
    ip: s.ip,
    from: ctx.mailFrom,
    rcpt: ctx.rcptTo.length,
    size: entry.message.length,
    messageId,
    routes: plan.decision.legs.map((leg) => leg.route),
    // Rule per leg, so an operator can hold the trace against `route explain`.
    rules: plan.decision.legs.map((leg) => leg.rule),
  });
  deps.onAccepted(entry);
  return id;
}
