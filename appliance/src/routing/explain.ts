// Routing room: turns a RoutingDecision into the lines `route explain` prints. Pure; it calls
// routeMessage and rejectAtRcpt itself so what an operator reads is what the receiver would do.
import { type RouteInput, type RoutingDecision, rejectAtRcpt, routeMessage } from './router.ts';
import type { CompiledRules } from './rules.ts';

export interface ExplainedLeg {
  readonly route: string;
  readonly rule: string;
  readonly recipients: readonly string[];
  readonly sendAs?: string;
  readonly mailFrom?: string;
  readonly fallbacks: readonly string[];
  readonly reasons: readonly string[];
}

export interface ExplainedRejection {
  readonly rule: string;
  readonly recipients: readonly string[];
  readonly responseCode: number;
  readonly enhanced: string;
  readonly message: string;
  /**
   * MAIL: the whole message at MAIL FROM (identity policy); RCPT: refused as each RCPT TO arrives;
   * DATA: only once the message content is known.
   */
  readonly at: 'MAIL' | 'RCPT' | 'DATA';
  readonly reasons: readonly string[];
}

export interface Explanation {
  readonly decision: RoutingDecision;
  readonly legs: readonly ExplainedLeg[];
  readonly rejections: readonly ExplainedRejection[];
}

function distinct(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())];
}

/** Routes `input` and annotates each leg and rejection with the conditions that decided it. */
export function explainRoute(rules: CompiledRules, input: RouteInput): Explanation {
  const decision = routeMessage(rules, input);
  const legs = decision.legs.map((leg): ExplainedLeg => {
    const mine = decision.perRecipient.filter((d) => d.type === 'route' && d.rule === leg.rule);
    const first = mine[0];
    return {
      ...leg,
      fallbacks: first?.type === 'route' ? first.fallbacks : [],
      reasons: distinct(mine.map((d) => d.reasons)),
    };
  });
  const rejections: ExplainedRejection[] = [];
  for (const rejection of decision.rejections) {
    const byStage = new Map<'RCPT' | 'DATA', string[]>();
    for (const recipient of rejection.recipients) {
      const early = rejectAtRcpt(rules, { ...input, recipient });
      const at = early === undefined ? 'DATA' : 'RCPT';
      byStage.set(at, [...(byStage.get(at) ?? []), recipient]);
    }
    for (const [at, recipients] of byStage) {
      const mine = decision.perRecipient.filter((d) => d.type === 'reject' && d.rule === rejection.rule);
      rejections.push({ ...rejection, recipients, at, reasons: distinct(mine.map((d) => d.reasons)) });
    }
  }
  return { decision, legs, rejections };
}

function because(reasons: readonly string[]): string {
  return reasons.length === 0 ? 'the rule has no conditions' : reasons.join('; ');
}

/** The line `route explain` prints for a refused group of recipients. */
export function formatRejection(r: ExplainedRejection): string {
  return [
    `REJECT ${r.responseCode} ${r.enhanced}`,
    `rule=${r.rule}`,
    `to=${r.recipients.join(',')}`,
    `at=${r.at}`,
    `reply=${JSON.stringify(r.message)}`,
    `because: ${because(r.reasons)}`,
  ].join('  ');
}

/**
 * One line per recipient group: the route or rejection, the rule, and why. `extra` adds tokens to
 * a leg's line before "because:" (the CLI adds what delivery would do: carrying route, mailbox).
 */
export function formatExplanation(
  ex: Explanation,
  extra: (leg: ExplainedLeg, index: number) => readonly string[] = () => [],
): string[] {
  const lines: string[] = [];
  ex.legs.forEach((leg, i) => {
    const parts = [`ROUTE  ${leg.route}`, `rule=${leg.rule}`, `to=${leg.recipients.join(',')}`];
    if (leg.sendAs !== undefined) parts.push(`sendAs=${leg.sendAs}`);
    if (leg.mailFrom !== undefined) parts.push(`mailFrom=${leg.mailFrom}`);
    if (leg.fallbacks.length > 0) parts.push(`fallback=${leg.fallbacks.join('>')}`);
    parts.push(...extra(leg, i));
    lines.push(`${parts.join('  ')}  because: ${because(leg.reasons)}`);
  });
  for (const r of ex.rejections) lines.push(formatRejection(r));
  return lines;
}
