// CLI room: what `route explain` adds around the router, each step the one the running appliance
// takes: the identity's sender policy at MAIL, RCPT and end of DATA (receiver/policy.ts decide()),
// whether the planned route or one of its fallbacks can carry the message (routing/capacity.ts, as
// the receiver asks before its 250), and which mailbox a Graph route sends as (graph-mailbox.ts).
// Pure: config and message facts in, decision out.
import type { Config, IdentityConfig, ListenerConfig } from '../config/schema.ts';
import { graphMailbox } from '../delivery/graph/graph-mailbox.ts';
import { decide, effectivePolicy } from '../receiver/policy.ts';
import { canCarry, type MessageShape, planCarries, routeCapacities } from '../routing/capacity.ts';
import { type ExplainedRejection, type Explanation, explainRoute } from '../routing/explain.ts';
import type { RouteInput } from '../routing/router.ts';
import type { CompiledRules } from '../routing/rules.ts';

/** What delivery would do with one routed leg. */
export interface LegDelivery {
  /** The route that can carry the message: the planned one, or the first fallback that can. */
  readonly carriedBy: string;
  /** Why the planned route (and earlier fallbacks) cannot, when carriedBy is a fallback. */
  readonly cannot?: string;
  /** The mailbox a Graph route sends as; null when it has none (null sender, no route mailbox). */
  readonly mailbox?: string | null;
}

export interface FullExplanation {
  /** The router's explanation; legs and rejections empty when the whole message is refused first. */
  readonly routing: Explanation;
  /** Parallel to routing.legs. */
  readonly deliveries: readonly LegDelivery[];
  /** Refusals outside the rules: identity policy (MAIL, RCPT, DATA) and routes that cannot carry it. */
  readonly refusals: readonly ExplainedRejection[];
  /** MAIL FROM after the identity's rewriteSender. */
  readonly mailFrom: string;
  /** The listener whose caps the policy used. */
  readonly listener?: string;
}

const LIMIT = { size: 'a message size', body: 'a body size', recipients: 'a recipient count' } as const;

type Refusal = Extract<ReturnType<typeof decide>, { kind: 'tempfail' | 'reject' }>;

function refusal(
  d: Refusal,
  at: ExplainedRejection['at'],
  recipients: readonly string[],
  why: string,
): ExplainedRejection {
  return {
    rule: d.rule,
    recipients,
    responseCode: d.responseCode,
    enhanced: d.enhanced,
    message: d.reason,
    at,
    reasons: [why],
  };
}

const NOTHING: Explanation = {
  decision: { legs: [], rejections: [], perRecipient: [] },
  legs: [],
  rejections: [],
};

export interface ExplainOptions {
  /** Listener the message arrives on; its caps bound the identity's. Default: the first. */
  readonly listener?: ListenerConfig;
  /** Decoded text/HTML body size, for Graph's body limit; default 0 (not checked). */
  readonly bodySize?: number;
}

export function explainFully(
  config: Config,
  rules: CompiledRules,
  input: RouteInput,
  options: ExplainOptions = {},
): FullExplanation {
  const identity: IdentityConfig | undefined = config.identities.find((i) => i.name === input.identity);
  const listener = options.listener ?? config.listeners[0];
  const whole = (refusals: ExplainedRejection[], mailFrom: string): FullExplanation => ({
    routing: NOTHING,
    deliveries: [],
    refusals,
    mailFrom,
    ...(listener ? { listener: listener.name } : {}),
  });
  let mailFrom = input.mailFrom;
  let recipients = [...input.recipients];
  const refusals: ExplainedRejection[] = [];
  if (identity && listener) {
    const policy = effectivePolicy(identity, listener);
    // No SIZE= here: a client that declares one is refused at MAIL FROM, the rest at end of DATA.
    const mail = decide(policy, { stage: 'mail', mailFrom, rateAvailable: true });
    if (mail.kind !== 'accept') {
      return whole([refusal(mail, 'MAIL', recipients, `identity "${identity.name}" policy`)], mailFrom);
    }
    mailFrom = mail.mailFrom ?? mailFrom;
    const accepted: string[] = [];
    for (const recipient of recipients) {
      const d = decide(policy, { stage: 'rcpt', recipient, acceptedRecipients: accepted.length });
      if (d.kind === 'accept') accepted.push(recipient);
      else refusals.push(refusal(d, 'RCPT', [recipient], `identity "${identity.name}" policy`));
    }
    recipients = accepted;
    if (recipients.length === 0) return whole(refusals, mailFrom);
    const data = decide(policy, { stage: 'data', size: input.size });
    if (data.kind !== 'accept') {
      const why = `identity "${identity.name}" policy (a client that declares SIZE= is refused at MAIL FROM)`;
      return whole([...refusals, refusal(data, 'DATA', recipients, why)], mailFrom);
    }
  }
  const routing = explainRoute(rules, { ...input, mailFrom, recipients });
  const caps = routeCapacities(config.routes);
  const deliveries: LegDelivery[] = [];
  for (const leg of routing.legs) {
    const shape: MessageShape = {
      size: input.size,
      bodySize: options.bodySize ?? 0,
      recipients: leg.recipients.length,
    };
    const v = planCarries([leg.route, ...leg.fallbacks], caps, shape);
    if (!v.ok) {
      // The receiver refuses the whole message before its 250 when any leg cannot be carried.
      const all = routing.legs.flatMap((l) => l.recipients);
      const carry = {
        rule: `routes.${leg.route}`,
        recipients: all,
        responseCode: v.responseCode,
        enhanced: v.enhanced,
        message: v.message,
        at: 'DATA' as const,
        reasons: [`no route of leg ${leg.route}${leg.fallbacks.map((f) => `>${f}`).join('')} can carry it`],
      };
      return whole([...refusals, carry], mailFrom);
    }
    const planned = caps.get(leg.route);
    const first = planned && v.route !== leg.route ? canCarry(planned, shape) : undefined;
    const route = config.routes.find((r) => r.name === v.route);
    const mailbox =
      route?.type === 'graph'
        ? (graphMailbox(route, {
            sendAs: leg.sendAs ?? identity?.sendAs,
            mailFrom: leg.mailFrom ?? mailFrom,
          }) ?? null)
        : undefined;
    deliveries.push({
      carriedBy: v.route,
      ...(first && !first.ok
        ? {
            cannot: `${leg.route} takes ${LIMIT[first.limit]} of at most ${first.max}, this one ${first.actual}`,
          }
        : {}),
      ...(mailbox === undefined ? {} : { mailbox }),
    });
  }
  return { routing, deliveries, refusals, mailFrom, ...(listener ? { listener: listener.name } : {}) };
}

/** Tokens for a leg's line: the fallback that will carry it and the mailbox that sends. */
export function deliveryTokens(d: LegDelivery | undefined, plannedRoute: string): string[] {
  if (d === undefined) return [];
  return [
    ...(d.carriedBy !== plannedRoute
      ? [`carriedBy=${d.carriedBy} (${d.cannot ?? 'planned route cannot'})`]
      : []),
    ...(d.mailbox === undefined
      ? []
      : [`mailbox=${d.mailbox ?? '(none: null sender and no route mailbox; Graph refuses it)'}`]),
  ];
}
