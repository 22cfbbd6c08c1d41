// Operator alerts, grouped and rate-limited the way Alertmanager does it (group_wait 0,
// group_interval = notices.alerts.interval): alerts of one kind and key (a route, "all") go out at
// once the first time, then at most one summary with the count per interval; and no more than
// maxPerInterval alerts of all kinds leave within any interval (the rest wait, counted, for the
// next summary). So an outage that dead-letters a thousand messages sends a handful of alerts with
// counts. Pure bookkeeping with an injected clock; `send` does the I/O.

export type AlertKind = 'dead-letter' | 'route-failing' | 'intake-refusing' | 'disk-low' | 'expiry';

export interface Alert {
  readonly kind: AlertKind;
  /** What it is about: a route name, a config key, or "all". */
  readonly key: string;
  /** One line, e.g. "route m365 is failing: RELAY_TOKEN_FAILED ...". */
  readonly text: string;
  readonly hint?: string;
}

export interface AlertMessage {
  readonly kind: AlertKind;
  readonly key: string;
  readonly title: string;
  /** The latest alert's text. */
  readonly text: string;
  readonly hint?: string;
  /** Alerts of this kind and key folded into this message. */
  readonly count: number;
  readonly firstAt: string;
  readonly lastAt: string;
}

interface Group {
  lastSentAt: number;
  pending: number;
  firstPendingAt: number;
  latest: Alert;
}

const TITLES: Record<AlertKind, string> = {
  'dead-letter': 'mail dead-lettered',
  'route-failing': 'route failing',
  'intake-refusing': 'intake refusing mail',
  'disk-low': 'spool disk low',
  expiry: 'certificate expiring',
};

export class AlertGrouper {
  private readonly groups = new Map<string, Group>();
  private readonly sentAt: number[] = [];
  private readonly opts: {
    readonly interval: number;
    readonly maxPerInterval: number;
    readonly now: () => number;
    readonly send: (m: AlertMessage) => void;
    readonly appliance: string;
  };

  constructor(opts: AlertGrouper['opts']) {
    this.opts = opts;
  }

  raise(a: Alert): void {
    const now = this.opts.now();
    const id = `${a.kind}\u0000${a.key}`;
    const g = this.groups.get(id);
    if (!g) {
      this.groups.set(id, {
        lastSentAt: Number.NEGATIVE_INFINITY,
        pending: 1,
        firstPendingAt: now,
        latest: a,
      });
    } else {
      if (g.pending === 0) g.firstPendingAt = now;
      g.pending++;
      g.latest = a;
    }
    this.flush();
  }

  /** Sends what is due: groups whose interval has passed, within the overall budget. */
  flush(): void {
    const now = this.opts.now();
    while (this.sentAt.length > 0 && (this.sentAt[0] as number) <= now - this.opts.interval)
      this.sentAt.shift();
    for (const g of this.groups.values()) {
      if (g.pending === 0 || now - g.lastSentAt < this.opts.interval) continue;
      if (this.sentAt.length >= this.opts.maxPerInterval) return;
      const a = g.latest;
      const count = g.pending;
      this.opts.send({
        kind: a.kind,
        key: a.key,
        title: `relaykit ${this.opts.appliance}: ${TITLES[a.kind]}${a.key === 'all' ? '' : ` (${a.key})`}${count > 1 ? ` ×${count}` : ''}`,
        text: a.text,
        ...(a.hint === undefined ? {} : { hint: a.hint }),
        count,
        firstAt: new Date(g.firstPendingAt).toISOString(),
        lastAt: new Date(now).toISOString(),
      });
      this.sentAt.push(now);
      g.lastSentAt = now;
      g.pending = 0;
    }
  }
}

/**
 * Alerts about a condition that holds for a while (a route failing, intake refusing, the spool disk
 * low, a certificate expiring): raised once when it starts holding (then grouped and rate-limited by
 * the AlertGrouper like any alert), never again while it holds however often the health model is
 * looked at, and reported resolved once when it stops holding.
 */
export class ConditionAlerts {
  private readonly active = new Map<string, { alert: Alert; since: number }>();
  private readonly opts: {
    readonly raise: (a: Alert) => void;
    readonly resolved: (a: Alert, since: number) => void;
    readonly now: () => number;
  };

  constructor(opts: ConditionAlerts['opts']) {
    this.opts = opts;
  }

  /** One look: every condition that holds now. New ones are raised, vanished ones resolved. */
  update(holding: readonly Alert[]): void {
    const seen = new Set<string>();
    for (const a of holding) {
      const id = `${a.kind}\u0000${a.key}`;
      seen.add(id);
      if (this.active.has(id)) continue;
      this.active.set(id, { alert: a, since: this.opts.now() });
      this.opts.raise(a);
    }
    for (const [id, { alert, since }] of this.active) {
      if (seen.has(id)) continue;
      this.active.delete(id);
      this.opts.resolved(alert, since);
    }
  }

  /** Conditions holding now (for tests and the status page). */
  holding(): Alert[] {
    return [...this.active.values()].map((v) => v.alert);
  }
}

/** The title of an alert kind, e.g. "spool disk low". */
export function alertTitle(kind: AlertKind): string {
  return TITLES[kind];
}

/**
 * The webhook body: relaykit's JSON, a Teams (Workflows) Adaptive Card message, or Slack's {text}.
 *
 * Teams: Office 365 / Microsoft 365 connector webhooks (MessageCard) are being retired; their
 * replacement, a Workflows flow started by "When a Teams webhook request is received" (template
 * "Send webhook alerts to a channel"), accepts Adaptive Cards only and loops over the body's
 * `attachments`, posting each `content` as a card. So the body is a Bot Framework message activity:
 * {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
 * "contentUrl":null,"content":{AdaptiveCard}}]}. Sources: learn.microsoft.com/microsoftteams/platform/
 * webhooks-and-connectors/how-to/connectors-using ("Send Adaptive Cards using an Incoming Webhook";
 * "Workflows support Adaptive Cards only"), learn.microsoft.com/connectors/teams ("Microsoft Teams -
 * Webhook"), and MicrosoftDocs/msteams-docs#11302 (a body without `attachments` fails the template's
 * "Send_each_adaptive_card" foreach). Card version 1.4: rendered by Teams desktop, web and mobile.
 * No MessageCard fields (@type, @context, summary, sections): Workflows refuses them.
 */
export function webhookBody(
  m: AlertMessage,
  format: 'json' | 'teams' | 'slack',
  meta: { appliance: string; version: string },
): unknown {
  const lines = [
    m.text,
    ...(m.hint ? [`Hint: ${m.hint}`] : []),
    ...(m.count > 1 ? [`${m.count} alerts since ${m.firstAt}`] : []),
  ];
  if (format === 'slack') return { text: `*${m.title}*\n${lines.join('\n')}` };
  if (format === 'teams') {
    return {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', text: m.title, weight: 'Bolder', size: 'Medium', wrap: true },
              ...lines.map((text) => ({ type: 'TextBlock', text, wrap: true })),
            ],
          },
        },
      ],
    };
  }
  return { ...m, appliance: meta.appliance, version: meta.version };
}
