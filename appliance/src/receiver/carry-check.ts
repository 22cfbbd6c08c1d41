// Receiving room, end of DATA: can the routes a message is planned on carry it? Each leg's planned
// route and its fallbacks are asked in order (routing/capacity.ts); the body is measured only when
// the message is larger than the smallest body limit of any route. A leg no route can carry refuses
// the whole message before the 250 (552 5.3.4, or 550 5.5.3 for a recipient count), with a text that
// names the route and the limit: answering 250 and dead-lettering later is the one wrong answer.
import type { RouteConfig } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import {
  type MessageShape,
  planCarries,
  type RouteCapacity,
  routeCapacities,
  smallestBodyLimit,
} from '../routing/capacity.ts';
import type { Leg } from '../routing/router.ts';
import type { MessageSource } from '../spool/record.ts';
import { measureBody } from './body-measure.ts';

export class CarryCheck {
  private readonly caps: Map<string, RouteCapacity>;
  private readonly measureAbove: number;
  private readonly fallbacks: ReadonlyMap<string, readonly string[]>;

  constructor(routes: readonly RouteConfig[], fallbacks: ReadonlyMap<string, readonly string[]>) {
    this.caps = routeCapacities(routes);
    this.measureAbove = smallestBodyLimit(this.caps);
    this.fallbacks = fallbacks;
  }

  /** The refusal to send instead of 250, or undefined when every leg has a route that carries it. */
  async refusal(
    legs: readonly Leg[],
    size: number,
    content: () => Promise<MessageSource>,
  ): Promise<RelayError | undefined> {
    // A body is never larger than its message: below every body limit there is nothing to measure.
    const bodySize = size > this.measureAbove ? (await measureBody(await content())).body : size;
    for (const leg of legs) {
      const shape: MessageShape = { size, bodySize, recipients: leg.recipients.length };
      const chain = [leg.route, ...(this.fallbacks.get(leg.route) ?? [])];
      const v = planCarries(chain, this.caps, shape);
      if (!v.ok) {
        return new RelayError('RELAY_ROUTE_CANNOT_CARRY', v.message, {
          responseCode: v.responseCode,
          enhanced: v.enhanced,
          detail: { rule: `routes.${leg.route}`, limit: v.limit, size, bodySize },
        });
      }
    }
    return undefined;
  }
}
