// One structured log line per mail event at the default level, so `journalctl -u relaykit` or a
// syslog collector tells the story of every message: received, delivered, deferred, fallback,
// dead-lettered, and route state changes. Refusals at intake are logged by the receiver ("smtp:
// rejected"). Fields are ids, addresses, counts and reasons; never bodies, secrets or AUTH payloads.
import type { DeliveryEvent } from '../delivery/events.ts';
import type { Logger } from '../log.ts';
import type { SpoolEntry } from '../spool/spool.ts';
import type { RouteChange } from './route-state.ts';

export function logReceived(logger: Logger, entry: SpoolEntry): void {
  const h = entry.header;
  logger.info(
    {
      event: 'received',
      id: h.id,
      client: h.sourceIp,
      listener: h.listener,
      identity: h.identity,
      from: h.envelope.mailFrom,
      recipients: h.envelope.rcptTo.length,
      size: entry.message.length,
      routes: [...new Set(h.deliveries.map((d) => d.route))],
      ...(h.messageId === undefined ? {} : { messageId: h.messageId }),
    },
    'mail received',
  );
}

export function logDeliveryEvent(logger: Logger, e: DeliveryEvent): void {
  switch (e.kind) {
    case 'attempt':
      return;
    case 'delivered':
      logger.info(
        {
          event: 'delivered',
          id: e.id,
          leg: e.leg,
          route: e.route,
          ...(e.remoteId === undefined ? {} : { remoteId: e.remoteId }),
          attempts: e.attempts,
          latencyMs: e.latencyMs,
        },
        'mail delivered',
      );
      return;
    case 'deferred':
      logger.info(
        {
          event: 'deferred',
          id: e.id,
          leg: e.leg,
          route: e.route,
          code: e.code,
          reason: e.reason,
          ...(e.hint === undefined ? {} : { hint: e.hint }),
          attempts: e.attempts,
          nextAttemptAt: new Date(e.nextAttemptAt).toISOString(),
        },
        'mail deferred',
      );
      return;
    case 'fallback':
      logger.info(
        { event: 'fallback', id: e.id, leg: e.leg, from: e.from, to: e.to, code: e.code, reason: e.reason },
        'mail handed to fallback route',
      );
      return;
    case 'dead': {
      const dead = e.deliveries.filter((d) => d.status === 'dead');
      const hint = dead.map((d) => d.attempts[d.attempts.length - 1]?.hint).find((h) => h !== undefined);
      logger.warn(
        {
          event: 'dead-lettered',
          id: e.id,
          ...(e.header.messageId === undefined ? {} : { messageId: e.header.messageId }),
          from: e.header.envelope.mailFrom,
          reasons: dead.map((d) => `${d.route}: ${d.deadReason}`),
          ...(hint === undefined ? {} : { hint }),
        },
        'mail dead-lettered',
      );
      return;
    }
  }
}

export function logRouteChange(logger: Logger, c: RouteChange): void {
  const s = c.status;
  const fields = {
    event: 'route-state',
    route: c.route,
    from: c.from,
    to: c.to,
    ...(s.code === undefined ? {} : { code: s.code }),
    ...(s.reason === undefined ? {} : { reason: s.reason }),
    ...(s.hint === undefined ? {} : { hint: s.hint }),
  };
  if (c.to === 'ok') logger.info(fields, `route ${c.route} is ok again`);
  else if (c.to === 'failing') logger.error(fields, `route ${c.route} is failing`);
  else logger.warn(fields, `route ${c.route} is degraded`);
}
