// Turns the router's decision for an accepted message into the spool's delivery legs. Pure: the
// receiver calls it between DATA and commit; tests call it directly.
import type { IdentityConfig } from '../config/schema.ts';
import type { RoutingDecision } from '../routing/router.ts';
import type { Delivery } from '../spool/record.ts';

export function planDeliveries(
  decision: Pick<RoutingDecision, 'legs' | 'rejections'>,
  identity: Pick<IdentityConfig, 'sendAs'>,
  receivedAt: number,
): Delivery[] {
  return [
    ...decision.legs.map((leg): Delivery => {
      // A rule's mailbox wins over the identity's; the route's fixed mailbox yields to both (graph.ts).
      const sendAs = leg.sendAs ?? identity.sendAs;
      return {
        route: leg.route,
        recipients: leg.recipients,
        rule: leg.rule,
        ...(sendAs === undefined ? {} : { sendAs }),
        ...(leg.mailFrom === undefined ? {} : { mailFrom: leg.mailFrom }),
        status: 'pending',
        attempts: [],
        nextAttemptAt: receivedAt,
      };
    }),
    // Recipients a rule refused after DATA while others were accepted: kept visible in the
    // dead-letter folder rather than dropped.
    ...decision.rejections.map(
      (r): Delivery => ({
        route: '(rejected)',
        recipients: r.recipients,
        rule: r.rule,
        status: 'dead',
        attempts: [],
        nextAttemptAt: receivedAt,
        deadReason: `RELAY_RULE_REJECTED: ${r.responseCode} ${r.enhanced} ${r.message}`,
      }),
    ),
  ];
}
