// What the delivery engine tells the rest of the appliance after each attempt: one event per
// outcome, emitted after the spool records it. The ops room (health, logs, notices) listens; the
// engine never waits for a listener and a listener that throws cannot hurt delivery. Transports
// never emit these: route state is judged from the engine's view of attempts, not from inside a
// transport.
import type { ErrorCode } from '../errors.ts';
import type { Delivery, MessageSource, SpoolHeader } from '../spool/record.ts';
import type { DeliveryOutcome } from './transport.ts';

export type DeliveryEvent =
  /** Every finished attempt, whatever its outcome: feeds route state. */
  | {
      readonly kind: 'attempt';
      readonly id: string;
      readonly leg: number;
      readonly route: string;
      readonly outcome: 'delivered' | 'transient' | 'permanent';
      readonly code?: ErrorCode;
      readonly reason: string;
      readonly hint?: string;
      readonly at: number;
    }
  | {
      readonly kind: 'delivered';
      readonly id: string;
      readonly leg: number;
      readonly route: string;
      readonly remoteId?: string;
      readonly attempts: number;
      /** From reception to delivery. */
      readonly latencyMs: number;
    }
  | {
      readonly kind: 'deferred';
      readonly id: string;
      readonly leg: number;
      readonly route: string;
      readonly code: ErrorCode;
      readonly reason: string;
      readonly hint?: string;
      readonly attempts: number;
      readonly nextAttemptAt: number;
      readonly header: SpoolHeader;
      readonly message: MessageSource;
      readonly delivery: Delivery;
    }
  | {
      readonly kind: 'fallback';
      readonly id: string;
      readonly leg: number;
      readonly from: string;
      readonly to: string;
      readonly code: ErrorCode;
      readonly reason: string;
    }
  /** The whole message left the queue for dead/: at least one leg could not be delivered. */
  | {
      readonly kind: 'dead';
      readonly id: string;
      readonly header: SpoolHeader;
      /** The message as it now lies in dead/. */
      readonly message: MessageSource;
      readonly deliveries: readonly Delivery[];
    };

export type DeliveryObserver = (event: DeliveryEvent) => void;

/**
 * The events one recorded outcome makes (the message-level 'dead' event is the engine's, once the
 * entry has moved). Pure: the leg before the attempt, the outcome, and the leg after it.
 */
export function outcomeEvents(
  entry: { readonly header: SpoolHeader; readonly message: MessageSource },
  leg: number,
  before: Delivery,
  outcome: DeliveryOutcome,
  after: Delivery,
  now: number,
): DeliveryEvent[] {
  const id = entry.header.id;
  const route = before.route;
  const events: DeliveryEvent[] = [
    {
      kind: 'attempt',
      id,
      leg,
      route,
      outcome: outcome.kind,
      ...(outcome.kind === 'delivered' ? {} : { code: outcome.code }),
      reason: outcome.kind === 'delivered' ? outcome.detail : outcome.reason,
      ...(outcome.kind !== 'delivered' && outcome.hint !== undefined ? { hint: outcome.hint } : {}),
      at: now,
    },
  ];
  if (outcome.kind === 'delivered') {
    events.push({
      kind: 'delivered',
      id,
      leg,
      route,
      ...(outcome.remoteId === undefined ? {} : { remoteId: outcome.remoteId }),
      attempts: after.attempts.length,
      latencyMs: now - entry.header.receivedAt,
    });
  } else if (outcome.kind === 'transient' && after.status === 'pending') {
    events.push({
      kind: 'deferred',
      id,
      leg,
      route,
      code: outcome.code,
      reason: outcome.reason,
      ...(outcome.hint === undefined ? {} : { hint: outcome.hint }),
      attempts: after.attempts.length,
      nextAttemptAt: after.nextAttemptAt,
      header: entry.header,
      message: entry.message,
      delivery: after,
    });
  } else if (outcome.kind === 'permanent' && after.status === 'pending' && after.route !== route) {
    events.push({
      kind: 'fallback',
      id,
      leg,
      from: route,
      to: after.route,
      code: outcome.code,
      reason: outcome.reason,
    });
  }
  return events;
}
