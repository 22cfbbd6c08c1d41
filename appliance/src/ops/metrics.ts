// The ops room's metrics: the appliance's counter and gauge families in a private prom-client
// Registry, served as /metrics (Prometheus text format, prom-client's content type). The receiver and
// the delivery engine see only MetricsSink (inc, set); /status, the page and tests read values back
// with get() and sum(), which are async because prom-client's reads are.
//
// No global default registry and no default process metrics: the appliance's own families only (the
// VM's node exporter, or the container runtime, reports process and host figures).
// The three classes from their own modules, not prom-client's index: the index also loads default
// process metrics (with @opentelemetry/api), histograms and summaries (tdigest), the Pushgateway
// (http, https, zlib) and the cluster aggregator, ~50 ms of CPU at start natively that the relay never
// uses (issue 18: start time under emulation). Types: ./prom-client-parts.d.ts.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Registry from 'prom-client/lib/registry.js';
import type { MetricLabels, MetricsSink } from '../metrics-sink.ts';
import { version } from '../version.ts';

interface FamilyDef {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly labelNames: readonly string[];
}

/** Every family /metrics exposes: names, types, help and labels are an interface (docs, dashboards). */
export const METRIC_FAMILIES: readonly FamilyDef[] = [
  {
    name: 'relaykit_build_info',
    type: 'gauge',
    help: 'Always 1; the version label is the running relaykit version.',
    labelNames: ['version'],
  },
  {
    name: 'relaykit_accepted_total',
    type: 'counter',
    help: 'Messages accepted (250) and spooled, by listener.',
    labelNames: ['listener'],
  },
  {
    name: 'relaykit_rejected_total',
    type: 'counter',
    help: 'SMTP commands or messages rejected, by reason code.',
    labelNames: ['reason'],
  },
  {
    name: 'relaykit_delivered_total',
    type: 'counter',
    help: 'Delivery legs delivered, by route.',
    labelNames: ['route'],
  },
  {
    name: 'relaykit_deferred_total',
    type: 'counter',
    help: 'Delivery attempts that failed transiently, by route.',
    labelNames: ['route'],
  },
  {
    name: 'relaykit_dead_lettered_total',
    type: 'counter',
    help: 'Delivery legs moved to the dead-letter folder, by route.',
    labelNames: ['route'],
  },
  {
    name: 'relaykit_fallback_total',
    type: 'counter',
    help: 'Delivery legs handed to a fallback route, by from and to route.',
    labelNames: ['from', 'to'],
  },
  { name: 'relaykit_spool_depth', type: 'gauge', help: 'Messages in the queue.', labelNames: [] },
  {
    name: 'relaykit_spool_oldest_age_seconds',
    type: 'gauge',
    help: 'Age of the oldest queued message.',
    labelNames: [],
  },
  {
    name: 'relaykit_dead_letter_depth',
    type: 'gauge',
    help: 'Messages in the dead-letter folder.',
    labelNames: [],
  },
  {
    name: 'relaykit_quarantined_total',
    type: 'counter',
    help: 'Spool files quarantined as unreadable.',
    labelNames: [],
  },
  {
    name: 'relaykit_deliveries_in_flight',
    type: 'gauge',
    help: 'Deliveries in progress, by route.',
    labelNames: ['route'],
  },
  {
    name: 'relaykit_spool_filesystem_size_bytes',
    type: 'gauge',
    help: 'Size of the file system holding the spool.',
    labelNames: [],
  },
  {
    name: 'relaykit_spool_filesystem_avail_bytes',
    type: 'gauge',
    help: 'Bytes available to the relay on the file system holding the spool.',
    labelNames: [],
  },
  {
    name: 'relaykit_spool_folder_bytes',
    type: 'gauge',
    help: 'Bytes in each spool folder (queue, dead, trace, ...).',
    labelNames: ['folder'],
  },
  {
    name: 'relaykit_retention_removed_total',
    type: 'counter',
    help: 'Trace files and dead letters deleted by spool.retention, by folder.',
    labelNames: ['folder'],
  },
  {
    name: 'relaykit_syslog_connected',
    type: 'gauge',
    help: '1 while the remote syslog collector is connected.',
    labelNames: [],
  },
  {
    name: 'relaykit_syslog_queued_lines',
    type: 'gauge',
    help: 'Log lines waiting for the remote syslog collector.',
    labelNames: [],
  },
  {
    name: 'relaykit_syslog_dropped_total',
    type: 'counter',
    help: 'Log lines dropped (oldest first) because the syslog collector did not take them in time.',
    labelNames: [],
  },
];

type Family = Counter<string> | Gauge<string>;

const sameLabels = (a: Partial<Record<string, string | number>>, b: MetricLabels): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => String(a[k]) === b[k]);
};

export class Metrics implements MetricsSink {
  private readonly registry = new Registry();
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => Promise<void> | void)[] = [];
  /**
   * Labelled counters not yet counted. They carry one unlabelled `name 0` sample until their first
   * count, so a scrape shows the family at zero (as an unlabelled counter does) instead of nothing.
   */
  private readonly zeroed = new Set<string>();
  /** The Content-Type of render()'s text (prom-client's: text format 0.0.4). */
  readonly contentType: string = this.registry.contentType;

  constructor(families: readonly FamilyDef[]) {
    for (const f of families) {
      const opts = {
        name: f.name,
        help: f.help,
        labelNames: [...f.labelNames],
        registers: [this.registry],
      };
      const family = f.type === 'counter' ? new Counter(opts) : new Gauge(opts);
      this.families.set(f.name, family);
      if (f.type === 'counter' && f.labelNames.length > 0) {
        (family as Counter<string>).inc({}, 0);
        this.zeroed.add(f.name);
      }
    }
  }

  inc(name: string, labels: MetricLabels = {}, by = 1): void {
    const fam = this.family(name);
    if (!(fam instanceof Counter)) throw new Error(`metric ${name} is a gauge: set it`);
    if (this.zeroed.delete(name)) fam.remove({});
    fam.inc({ ...labels }, by);
  }

  set(name: string, labels: MetricLabels, value: number): void {
    const fam = this.family(name);
    if (!(fam instanceof Gauge)) throw new Error(`metric ${name} is a counter: inc it`);
    fam.set({ ...labels }, value);
  }

  /** One series' value (0 when it has none yet). */
  async get(name: string, labels: MetricLabels = {}): Promise<number> {
    const { values } = await this.family(name).get();
    return values.find((v) => sameLabels(v.labels, labels))?.value ?? 0;
  }

  /** Sum of a family over every label set (all listeners' accepted, all reasons' rejections). */
  async sum(name: string): Promise<number> {
    const { values } = await this.family(name).get();
    return values.reduce((n, v) => n + v.value, 0);
  }

  /** Registers a callback that refreshes gauges just before each scrape. */
  onCollect(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  /** The exposition text for /metrics, gauges refreshed first. */
  async render(): Promise<string> {
    for (const fn of this.collectors) await fn();
    return this.registry.metrics();
  }

  private family(name: string): Family {
    const fam = this.families.get(name);
    if (!fam) throw new Error(`metric ${name} is not defined`);
    return fam;
  }
}

/** The appliance's metric families, defined once; build_info set to this version. */
export function createMetrics(): Metrics {
  const m = new Metrics(METRIC_FAMILIES);
  m.set('relaykit_build_info', { version }, 1);
  return m;
}
