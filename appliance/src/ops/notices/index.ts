// Notices, wired: DSNs from delivery events, operator alerts from events and from a periodic look at
// the health model (route failing longer than routeFailingAfter, intake refusing, disk low,
// certificates expiring), sent by mail through notices.route and/or to the webhook. The webhook is
// fire-and-forget with a timeout and an abort: a collector that hangs never holds up delivery.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/schema.ts';
import type { DeliveryEvent } from '../../delivery/events.ts';
import type { Logger } from '../../log.ts';
import type { Spool, SpoolEntry } from '../../spool/spool.ts';
import type { HealthModel } from '../health.ts';
import type { RouteStateTracker } from '../route-state.ts';
import {
  type Alert,
  AlertGrouper,
  type AlertMessage,
  alertTitle,
  ConditionAlerts,
  type AlertGrouper as Grouper,
  webhookBody,
} from './alerts.ts';
import { mailDate } from './dsn.ts';
import { DsnSender } from './dsn-sender.ts';
import { createOutbox, type NoticeOutbox } from './outbox.ts';

export interface NoticeDeps {
  readonly config: Config;
  readonly spool: Spool;
  readonly logger: Logger;
  readonly now: () => number;
  readonly version: string;
  readonly health: HealthModel;
  readonly routes: RouteStateTracker;
  readonly onSpooled: (entry: SpoolEntry) => void;
  readonly fetch?: typeof globalThis.fetch;
  /** How often the health model is looked at for alerts (default 30 s). */
  readonly checkInterval?: number;
}

export interface Notices {
  onEvent(e: DeliveryEvent): void;
  readonly alerts: Grouper;
  /** One look at the health model now (the timer calls it; tests too). */
  check(): Promise<void>;
  /** Resolves when every notice started so far is spooled or sent (tests, shutdown). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

function alertMail(m: AlertMessage, from: string, to: readonly string[], host: string, now: number): string {
  return [
    `From: relaykit alerts <${from}>`,
    `To: ${to.map((t) => `<${t}>`).join(', ')}`,
    `Subject: ${m.title.replace(/[\r\n]+/g, ' ')}`,
    `Date: ${mailDate(now)}`,
    `Message-ID: <${now.toString(36)}.${Math.random().toString(36).slice(2)}.alert@${host}>`,
    'Auto-Submitted: auto-generated',
    'X-Relaykit-Notice: alert',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    m.text,
    ...(m.hint ? ['', `Hint: ${m.hint}`] : []),
    '',
    `${m.count} alert(s) of this kind from ${m.firstAt} to ${m.lastAt}.`,
    '',
  ].join('\r\n');
}

export async function createNotices(deps: NoticeDeps): Promise<Notices> {
  const { config, logger, now } = deps;
  const n = config.notices;
  const markerDir = join(deps.spool.root, 'notices');
  await mkdir(markerDir, { recursive: true, mode: 0o700 });
  const outbox: NoticeOutbox | undefined =
    n.route === undefined || n.from === undefined
      ? undefined
      : createOutbox({ spool: deps.spool, route: n.route, from: n.from, now, onSpooled: deps.onSpooled });
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const t = p
      .catch((err: unknown) => logger.error({ err }, 'notices: failed'))
      .finally(() => pending.delete(t));
    pending.add(t);
  };
  // Node's own fetch is loaded on first touch (its undici is 2 MB of script): only when a webhook is sent.
  const fetch: typeof globalThis.fetch = deps.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const send = (m: AlertMessage) => {
    logger.warn({ event: 'alert', kind: m.kind, key: m.key, count: m.count, text: m.text }, m.title);
    const hook = n.alerts.webhook;
    if (hook) {
      const body = JSON.stringify(
        webhookBody(m, hook.format, { appliance: config.appliance.hostname, version: deps.version }),
      );
      track(
        fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(hook.timeout),
        }).then(
          async (res) => {
            await res.arrayBuffer().catch(() => undefined);
            if (!res.ok)
              logger.error(
                { event: 'alert-webhook', status: res.status },
                'notices: webhook refused the alert',
              );
          },
          (err: unknown) =>
            logger.error(
              { event: 'alert-webhook', reason: (err as Error).message },
              'notices: webhook did not take the alert',
            ),
        ),
      );
    }
    if (outbox && n.alerts.to.length > 0) {
      track(
        outbox.send(
          alertMail(m, n.from as string, n.alerts.to, config.appliance.hostname, now()),
          n.alerts.to,
          'alert',
        ),
      );
    }
  };
  const alerts = new AlertGrouper({
    interval: n.alerts.interval,
    maxPerInterval: n.alerts.maxPerInterval,
    now,
    send,
    appliance: config.appliance.hostname,
  });
  const dsn = outbox ? new DsnSender({ config, outbox, logger, now, markerDir }) : undefined;

  const conditions = new ConditionAlerts({
    raise: (a) => alerts.raise(a),
    resolved: (a, since) =>
      logger.info(
        { event: 'alert-resolved', kind: a.kind, key: a.key, since: new Date(since).toISOString() },
        `resolved: ${alertTitle(a.kind)}${a.key === 'all' ? '' : ` (${a.key})`}`,
      ),
    now,
  });

  /** The conditions that hold now, from the route states and one health snapshot. */
  const holding = async (): Promise<Alert[]> => {
    const t = now();
    const out: Alert[] = [];
    for (const r of deps.routes.all()) {
      if (r.state === 'failing' && t - r.since >= n.alerts.routeFailingAfter) {
        out.push({
          kind: 'route-failing',
          key: r.name,
          text: `route ${r.name} (${r.type}) failing since ${new Date(r.since).toISOString()}: ${r.code ?? ''} ${r.reason ?? ''}`.trim(),
          ...(r.hint === undefined ? {} : { hint: r.hint }),
        });
      }
    }
    const snap = await deps.health.snapshot({ folders: false });
    if (snap.intake.state === 'refusing') {
      out.push({
        kind: 'intake-refusing',
        key: 'intake',
        text: `intake refusing: ${snap.intake.reason}`,
        ...(snap.intake.hint ? { hint: snap.intake.hint } : {}),
      });
    }
    // The same statfs figure as /readyz and relaykit_spool_filesystem_avail_bytes.
    const d = snap.disk;
    if (d.freeBytes !== undefined && d.freeBytes < d.minFreeBytes) {
      out.push({
        kind: 'disk-low',
        key: 'spool',
        text: `free space on the spool file system (${d.path}) is ${d.freeBytes} bytes, below spool.minFreeSpace (${d.minFreeBytes})`,
        hint: 'free disk space or grow the volume; queued mail is kept and delivered meanwhile',
      });
    }
    for (const e of snap.expiry) {
      if (e.state !== 'ok') {
        out.push({
          kind: 'expiry',
          // expiring and expired are two conditions: the second is news.
          key: `${e.key} (${e.state})`,
          text: `${e.key} (${e.subject}) ${e.state === 'expired' ? 'expired' : 'expires'} ${e.expiresAt} (${e.daysLeft} days)`,
        });
      }
    }
    return out;
  };

  const check = async () => {
    conditions.update(await holding());
    alerts.flush();
  };
  const timer = setInterval(() => track(check()), deps.checkInterval ?? 30_000);
  timer.unref();

  return {
    alerts,
    check,
    onEvent(e) {
      if (e.kind === 'dead') {
        const reasons = e.deliveries
          .filter((d) => d.status === 'dead')
          .map((d) => `${d.route}: ${d.deadReason}`);
        alerts.raise({
          kind: 'dead-letter',
          key: 'all',
          text: `message ${e.id} from <${e.header.envelope.mailFrom}> dead-lettered: ${reasons.join('; ')}`,
        });
      }
      if (dsn && (e.kind === 'dead' || e.kind === 'deferred')) track(dsn.onEvent(e));
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async stop() {
      clearInterval(timer);
      await Promise.race([Promise.all([...pending]), new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
