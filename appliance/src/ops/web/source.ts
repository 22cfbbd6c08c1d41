// Builds the page's PageModel: states from the one health model (overall, intake, routes with reason
// and hint, disk, certificate expiry, credentials), the queued and dead-lettered entries from the
// spool, intake rates from the metrics counters. The page says what /status says, in other words.
import { readFile } from 'node:fs/promises';
import { size } from '../../config/units.ts';
import { pemCertificates } from '../../pem.ts';
import type { Spool } from '../../spool/spool.ts';
import { type ExpiryItem, expiryOf } from '../expiry.ts';
import type { HealthSnapshot } from '../health.ts';
import type { Metrics } from '../metrics.ts';
import { type Light, PAGE_ROWS, type PageExpiry, type PageModel, pageEntry, RateWindow } from './model.ts';

export interface PageSourceDeps {
  readonly snapshot: () => Promise<HealthSnapshot>;
  readonly hostname: string;
  readonly spool: Pick<Spool, 'list'>;
  readonly metrics: Pick<Metrics, 'sum'>;
  /** Certificates the health model does not scan (the admin listener's generated one). */
  readonly certificates?: () => readonly { key: string; path: string }[];
  /** Certificates closer to expiry than this are amber (config notices.alerts.expiryWarning). */
  readonly expiryWarningMs: number;
  readonly startedAt: number;
  readonly now: () => number;
}

const EXPIRY_LIGHT = { ok: 'green', expiring: 'amber', expired: 'red' } as const;

function expiryRow(x: ExpiryItem): PageExpiry {
  const day = x.expiresAt.slice(0, 10);
  return {
    name: x.key,
    kind: 'certificate',
    state: EXPIRY_LIGHT[x.state],
    detail: x.state === 'expired' ? `expired ${day}` : `expires ${day} (${x.daysLeft} days)`,
  };
}

async function extraCertificate(
  key: string,
  path: string,
  now: number,
  warnMs: number,
): Promise<ExpiryItem | undefined> {
  try {
    const cert = pemCertificates(await readFile(path, 'utf8'))[0];
    return cert ? expiryOf(key, cert, now, warnMs) : undefined;
  } catch {
    return undefined;
  }
}

export function createPageSource(deps: PageSourceDeps): () => Promise<PageModel> {
  const rates = new RateWindow();
  // Counters start at zero with the process: until the window fills, rates are averages since start.
  rates.sample(deps.startedAt, 0, 0);
  return async () => {
    const now = deps.now();
    const [h, queued, dead] = await Promise.all([
      deps.snapshot(),
      deps.spool.list('queue'),
      deps.spool.list('dead'),
    ]);
    const accepted = await deps.metrics.sum('relaykit_accepted_total');
    const refused = await deps.metrics.sum('relaykit_rejected_total');
    const rate = rates.sample(now, accepted, refused);
    const extra = await Promise.all(
      (deps.certificates?.() ?? [])
        .filter((c) => !h.expiry.some((x) => x.key === c.key))
        .map((c) => extraCertificate(c.key, c.path, now, deps.expiryWarningMs)),
    );
    const expiries: PageExpiry[] = [
      ...[...h.expiry, ...extra.filter((x): x is ExpiryItem => x !== undefined)].map(expiryRow),
      ...h.credentials.map(
        (c): PageExpiry => ({
          name: c.name,
          kind: 'credential',
          state: !c.ok ? 'red' : c.stale ? 'amber' : 'green',
          detail: `${c.source}${c.ok ? (c.stale ? ': serving an older value, refresh failing' : ': readable') : `: ${c.detail ?? 'not readable yet'}`}`,
        }),
      ),
    ];
    const d = h.disk;
    const diskLight: Light = d.state === 'ok' ? 'green' : 'red';
    const space =
      d.freeBytes === undefined || d.totalBytes === undefined
        ? 'free space unknown'
        : `${size(d.freeBytes)} free of ${size(d.totalBytes)}`;
    return {
      hostname: deps.hostname,
      version: h.version,
      uptimeSeconds: h.uptimeSeconds,
      generatedAt: h.at,
      overall: { state: h.overall, reasons: h.problems },
      intake: {
        state: h.intake.state === 'accepting' ? 'green' : 'red',
        detail:
          h.intake.state === 'accepting' ? 'accepting' : `refusing: ${h.intake.reason ?? 'see the log'}`,
        ...(h.intake.hint === undefined ? {} : { hint: h.intake.hint }),
        acceptedTotal: accepted,
        refusedTotal: refused,
        ...(rate.accepted === undefined ? {} : { acceptedPerMinute: rate.accepted }),
        ...(rate.refused === undefined ? {} : { refusedPerMinute: rate.refused }),
      },
      queue: {
        depth: h.queue.depth,
        oldestAgeSeconds: h.queue.oldestAgeSeconds,
        inFlight: h.queue.inFlight,
        deadLetters: h.queue.deadLetters,
        quarantined: h.queue.quarantined,
      },
      routes: h.routes.map((r) => {
        const legs = queued.filter((e) =>
          e.deliveries.some((l) => l.route === r.name && l.status === 'pending'),
        );
        const lastError = r.state === 'ok' ? undefined : `${r.code ?? ''} ${r.reason ?? ''}`.trim();
        return {
          name: r.name,
          type: r.type,
          state: r.state,
          queued: legs.length,
          ...(lastError ? { lastError } : {}),
          ...(r.state !== 'ok' && r.hint !== undefined ? { hint: r.hint } : {}),
        };
      }),
      queued: queued
        .sort((a, b) => a.header.receivedAt - b.header.receivedAt)
        .slice(0, PAGE_ROWS)
        .map((e) => pageEntry(e, now)),
      dead: dead
        .sort((a, b) => b.header.receivedAt - a.header.receivedAt)
        .slice(0, PAGE_ROWS)
        .map((e) => pageEntry(e, now)),
      expiries,
      disk: {
        state: diskLight,
        detail: `${space}; intake refuses mail below ${size(d.minFreeBytes)}${d.state === 'unwritable' ? ' — the spool cannot be written' : ''}`,
        ...(d.freeBytes === undefined ? {} : { freeBytes: d.freeBytes }),
      },
    };
  };
}
