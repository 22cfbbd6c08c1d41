// Folds per-recipient results of one leg (several ACS operations or SMTP transactions, each of which
// may accept or refuse recipients) into the one DeliveryOutcome the engine expects. Pure.
import type { ErrorCode } from '../errors.ts';
import type { DeliveryOutcome } from './transport.ts';

export interface LegFailure {
  readonly outcome: 'transient' | 'permanent';
  readonly code: ErrorCode;
  readonly reason: string;
  readonly hint?: string;
  readonly retryAfterMs?: number;
  readonly possibleDuplicate?: boolean;
  readonly fallbackEligible?: boolean;
}

export type RecipientResult =
  | { readonly recipient: string; readonly ok: true }
  | { readonly recipient: string; readonly ok: false; readonly failure: LegFailure };

/**
 * Every recipient accepted: delivered. None accepted and all failed alike: that failure, so the
 * engine retries or dead-letters (or falls back) the whole leg. Otherwise: delivered, naming each
 * refused recipient with its own outcome so the engine retries only the transient ones.
 */
export function combineOutcomes(
  results: readonly RecipientResult[],
  detail: (accepted: number, total: number) => string,
  remoteId?: string,
): DeliveryOutcome {
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  const accepted = results.length - failed.length;
  const rid = remoteId === undefined || remoteId === '' ? {} : { remoteId };
  if (failed.length === 0) return { kind: 'delivered', detail: detail(accepted, results.length), ...rid };
  const first = failed[0]!.failure;
  if (accepted === 0 && failed.every((f) => f.failure.outcome === first.outcome)) {
    const hint = first.hint === undefined ? {} : { hint: first.hint };
    if (first.outcome === 'transient') {
      return {
        kind: 'transient',
        code: first.code,
        reason: first.reason,
        ...hint,
        ...(first.retryAfterMs === undefined ? {} : { retryAfterMs: first.retryAfterMs }),
        ...(first.possibleDuplicate ? { possibleDuplicate: true } : {}),
      };
    }
    // Fallback only helps when every recipient failed for a reason another route could avoid. Said
    // explicitly either way: the engine reads a missing flag as eligible.
    return {
      kind: 'permanent',
      code: first.code,
      reason: first.reason,
      ...hint,
      fallbackEligible: failed.every((f) => f.failure.fallbackEligible === true),
    };
  }
  return {
    kind: 'delivered',
    detail: detail(accepted, results.length),
    ...rid,
    ...(failed.some((f) => f.failure.possibleDuplicate) ? { possibleDuplicate: true } : {}),
    failedRecipients: failed.map((f) => ({
      recipient: f.recipient,
      outcome: f.failure.outcome,
      code: f.failure.code,
      reason: f.failure.reason,
    })),
  };
}

/** Splits a recipient list into groups of at most `size` (service recipient limits), in order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
