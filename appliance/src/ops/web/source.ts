// Builds the page's PageModel from the running rooms. Until the health model (ops/health.ts) gives
// per-component states, the states here are derived from what the rooms already report: receiver up,
// spool writable, transport health, the last failed attempt of each route's queued legs, credential
// health, certificate files and free disk space.
import type { Config } from '../../config/schema.ts';
import type { CredentialHealth } from '../../credentials/store.ts';
import type { Transport } from '../../delivery/transport.ts';
import type { Spool, SpoolEntry } from '../../spool/spool.ts';
import { version } from '../../version.ts';
import type { HealthReport } from '../health.ts';
import type { Metrics } from '../metrics.ts';
import {
  certificateExpiry,
  diskState,
  type Light,
  PAGE_ROWS,
  type PageExpiry,
  type PageModel,
  type PageRoute,
  pageEntry,
  RateWindow,
  worst,
} from './model.ts';

export interface PageSourceDeps {
  readonly config: Config;
  readonly spool: Spool;
  readonly metrics: Metrics;
  readonly transports: ReadonlyMap<string, Transport>;
  readonly health: () => Promise<HealthReport>;
  readonly credentials: () => readonly CredentialHealth[];
  readonly inFlight: () => number;
  /** Extra certificate files to watch for expiry (the admin listener's). */
  readonly certificates?: () => readonly { name: string; path: string }[];
  readonly startedAt: number;
  readonly now: () => number;
}

function routeStates(deps: PageSourceDeps, queued: readonly SpoolEntry[]): PageRoute[] {
  return deps.config.routes.map((r) => {
    const legs = queued.flatMap((e) =>
      e.deliveries.filter((d) => d.route === r.name && d.status === 'pending'),
    );
    const failed = legs
      .flatMap((d) => d.attempts)
      .filter((a) => a.outcome !== 'delivered')
      .sort((a, b) => a.at.localeCompare(b.at));
    const last = failed[failed.length - 1];
    const h = deps.transports.get(r.name)?.health?.();
    const state: PageRoute['state'] = h && !h.ok ? 'failing' : last ? 'degraded' : 'ok';
    const lastError = h && !h.ok ? h.detail : last ? `${last.code ?? ''} ${last.reason}`.trim() : undefined;
    return {
      name: r.name,
      type: r.type,
      state,
      queued: legs.length,
      ...(lastError === undefined ? {} : { lastError }),
      ...(last?.hint === undefined ? {} : { hint: last.hint }),
    };
  });
}

export function createPageSource(deps: PageSourceDeps): () => Promise<PageModel> {
  const rates = new RateWindow();
  // Counters start at zero with the process: until the window fills, rates are averages since start.
  rates.sample(deps.startedAt, 0, 0);
  return async () => {
    const now = deps.now();
    const [queued, dead, health, disk, quarantined] = await Promise.all([
      deps.spool.list('queue'),
      deps.spool.list('dead'),
      deps.health(),
      diskState(deps.config.spool.directory),
      deps.spool.listQuarantine(),
    ]);
    const accepted = deps.metrics.sum('relaykit_accepted_total');
    const refused = deps.metrics.sum('relaykit_rejected_total');
    const rate = rates.sample(now, accepted, refused);
    const routes = routeStates(deps, queued);
    const oldest = queued.reduce((m, e) => Math.min(m, e.header.receivedAt), now);
    const expiries: PageExpiry[] = [
      ...deps.config.listeners
        .filter((l) => l.tls.mode !== 'none' && l.tls.cert !== undefined)
        .map((l) => certificateExpiry(`listener ${l.name}`, l.tls.cert as string, now)),
      ...(deps.certificates?.() ?? []).map((c) => certificateExpiry(c.name, c.path, now)),
      ...deps.credentials().map(
        (c): PageExpiry => ({
          name: c.name,
          kind: 'credential',
          state: !c.ok ? 'red' : c.stale ? 'amber' : 'green',
          detail: `${c.source}${c.ok ? (c.stale ? ': serving an older value, refresh failing' : ': readable') : `: ${c.detail ?? 'not readable yet'}`}`,
        }),
      ),
    ];
    const intakeState: Light = health.listeners && health.spoolWritable ? 'green' : 'red';
    const reasons = [
      ...(health.listeners ? [] : ['SMTP listeners are not all up']),
      ...(health.spoolWritable ? [] : ['the spool cannot be written: devices get 452 until it can']),
      ...routes
        .filter((r) => r.state !== 'ok')
        .map((r) => `route ${r.name} is ${r.state}${r.lastError ? `: ${r.lastError}` : ''}`),
      ...(dead.length > 0 ? [`${dead.length} dead letter(s) wait for a decision`] : []),
      ...(disk.state !== 'green' ? [`disk: ${disk.detail}`] : []),
      ...expiries.filter((x) => x.state !== 'green').map((x) => `${x.kind} ${x.name}: ${x.detail}`),
    ];
    const overall = worst([
      intakeState,
      disk.state,
      ...routes.map(
        (r): Light => (r.state === 'failing' ? 'red' : r.state === 'degraded' ? 'amber' : 'green'),
      ),
      ...expiries.map((x) => x.state),
      dead.length > 0 ? 'amber' : 'green',
    ]);
    return {
      hostname: deps.config.appliance.hostname,
      version,
      uptimeSeconds: Math.round((now - deps.startedAt) / 1000),
      generatedAt: new Date(now).toISOString(),
      overall: { state: overall, reasons },
      intake: {
        state: intakeState,
        detail: intakeState === 'green' ? 'accepting' : 'refusing',
        acceptedTotal: accepted,
        refusedTotal: refused,
        ...(rate.accepted === undefined ? {} : { acceptedPerMinute: rate.accepted }),
        ...(rate.refused === undefined ? {} : { refusedPerMinute: rate.refused }),
      },
      queue: {
        depth: queued.length,
        oldestAgeSeconds: Math.round((now - oldest) / 1000),
        inFlight: deps.inFlight(),
        deadLetters: dead.length,
        quarantined: quarantined.length,
      },
      routes,
      queued: queued
        .sort((a, b) => a.header.receivedAt - b.header.receivedAt)
        .slice(0, PAGE_ROWS)
        .map((e) => pageEntry(e, now)),
      dead: dead
        .sort((a, b) => b.header.receivedAt - a.header.receivedAt)
        .slice(0, PAGE_ROWS)
        .map((e) => pageEntry(e, now)),
      expiries,
      disk,
    };
  };
}
