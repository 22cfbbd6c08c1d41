// Counters and gauges for /metrics (Prometheus text format 0.0.4). Deliberately tiny: a handful of
// labelled counters does not justify a dependency.
import { version } from '../version.ts';

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly values: Map<string, { labels: Labels; value: number }>;
}

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => Promise<void> | void)[] = [];

  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, values: new Map() });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const fam = this.family(name);
    const k = key(labels);
    const cur = fam.values.get(k);
    if (cur) cur.value += by;
    else fam.values.set(k, { labels, value: by });
  }

  set(name: string, labels: Labels, value: number): void {
    this.family(name).values.set(key(labels), { labels, value });
  }

  get(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(key(labels))?.value ?? 0;
  }

  /** Sum of a family over every label set (all listeners' accepted, all reasons' rejections). */
  sum(name: string): number {
    let n = 0;
    for (const v of this.families.get(name)?.values.values() ?? []) n += v.value;
    return n;
  }

  /** Registers a callback that refreshes gauges just before each scrape. */
  onCollect(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    for (const fn of this.collectors) await fn();
    const lines: string[] = [];
    for (const [name, fam] of this.families) {
      lines.push(`# HELP ${name} ${fam.help}`, `# TYPE ${name} ${fam.type}`);
      if (fam.values.size === 0 && fam.type === 'counter') lines.push(`${name} 0`);
      for (const { labels, value } of fam.values.values()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(',');
        lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private family(name: string): Family {
    const fam = this.families.get(name);
    if (!fam) throw new Error(`metric ${name} is not defined`);
    return fam;
  }
}

/** The appliance's metric families, defined once. */
export function createMetrics(): Metrics {
  const m = new Metrics();
  m.define('relaykit_build_info', 'gauge', 'Always 1; the version label is the running relaykit version.');
  m.set('relaykit_build_info', { version }, 1);
  m.define('relaykit_accepted_total', 'counter', 'Messages accepted (250) and spooled, by listener.');
  m.define('relaykit_rejected_total', 'counter', 'SMTP commands or messages rejected, by reason code.');
  m.define('relaykit_delivered_total', 'counter', 'Delivery legs delivered, by route.');
  m.define('relaykit_deferred_total', 'counter', 'Delivery attempts that failed transiently, by route.');
  m.define(
    'relaykit_dead_lettered_total',
    'counter',
    'Delivery legs moved to the dead-letter folder, by route.',
  );
  m.define(
    'relaykit_fallback_total',
    'counter',
    'Delivery legs handed to a fallback route, by from and to route.',
  );
  m.define('relaykit_spool_depth', 'gauge', 'Messages in the queue.');
  m.define('relaykit_spool_oldest_age_seconds', 'gauge', 'Age of the oldest queued message.');
  m.define('relaykit_dead_letter_depth', 'gauge', 'Messages in the dead-letter folder.');
  m.define('relaykit_quarantined_total', 'counter', 'Spool files quarantined as unreadable.');
  m.define('relaykit_deliveries_in_flight', 'gauge', 'Deliveries in progress, by route.');
  m.define('relaykit_spool_filesystem_size_bytes', 'gauge', 'Size of the file system holding the spool.');
  m.define(
    'relaykit_spool_filesystem_avail_bytes',
    'gauge',
    'Bytes available to the relay on the file system holding the spool.',
  );
  m.define('relaykit_spool_folder_bytes', 'gauge', 'Bytes in each spool folder (queue, dead, trace, ...).');
  m.define(
    'relaykit_retention_removed_total',
    'counter',
    'Trace files and dead letters deleted by spool.retention, by folder.',
  );
  return m;
}
