// fleet/ room: one client's health as the MSP sees it, computed from its stack outputs, a refresh
// preview and its sites' status endpoints — credential/certificate expiry (warn within 30 days), ACS
// verification per record, drift, site health. Pure: the probes happen in site-probe.ts.
import type { ChangeSummary } from './engine.ts';

export const EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ExpiryRow {
  readonly credential: 'mail' | 'appliance';
  readonly id: string;
  readonly state: string;
  readonly expires: string;
  readonly daysLeft: number;
  readonly level: 'ok' | 'warn' | 'expired';
}

interface RawExpiry {
  id?: unknown;
  state?: unknown;
  expires?: unknown;
}

export function expiryRows(credentialExpiry: unknown, now: number): ExpiryRow[] {
  const ce = (credentialExpiry ?? {}) as { mailCredential?: RawExpiry[]; applianceCertificate?: RawExpiry[] };
  const rows: ExpiryRow[] = [];
  const add = (credential: ExpiryRow['credential'], list: RawExpiry[] | undefined) => {
    for (const e of list ?? []) {
      const expires = String(e.expires ?? '');
      const daysLeft = Math.floor((Date.parse(expires) - now) / DAY_MS);
      const level = daysLeft < 0 ? 'expired' : daysLeft <= EXPIRY_WARN_DAYS ? 'warn' : 'ok';
      rows.push({
        credential,
        id: String(e.id ?? ''),
        state: String(e.state ?? ''),
        expires,
        daysLeft,
        level,
      });
    }
  };
  add('mail', ce.mailCredential);
  add('appliance', ce.applianceCertificate);
  return rows;
}

export interface AcsRow {
  readonly record: string;
  readonly state: string;
  readonly verified: boolean;
}

/** acsVerificationStatus lines ("SPF: Verified (last request: ...)") → one row per record. */
export function acsRows(status: unknown): AcsRow[] {
  if (!Array.isArray(status)) return [];
  return status.map((line) => {
    const m = /^([^:]+):\s*(\S+)/.exec(String(line));
    const state = m?.[2] ?? 'unknown';
    return { record: m?.[1] ?? String(line), state, verified: state === 'Verified' };
  });
}

/** Drift from a refresh preview: every operation other than "same" is a difference. */
export function driftText(changes: ChangeSummary | undefined): string {
  if (changes === undefined) return 'unknown';
  const diffs = Object.entries(changes).filter(([op, n]) => op !== 'same' && n > 0);
  return diffs.length === 0 ? 'none' : diffs.map(([op, n]) => `${n} ${op}`).join(', ');
}

export interface SiteHealth {
  readonly site: string;
  /** green/amber/red from the appliance, or unreachable / not configured. */
  readonly health: string;
  readonly problems: readonly string[];
  /** ISO expiry times of the certificates the site reports (to tell which bundle it runs). */
  readonly certificates: readonly string[];
}

export interface ClientStatus {
  readonly client: string;
  readonly expiry: readonly ExpiryRow[];
  readonly acs: readonly AcsRow[];
  readonly drift: string;
  readonly sites: readonly SiteHealth[];
}

function worst(rows: readonly ExpiryRow[]): string {
  const bad = rows.filter((r) => r.level !== 'ok' && r.state === 'current');
  if (bad.length === 0) {
    const soonest = rows.filter((r) => r.state === 'current').sort((a, b) => a.daysLeft - b.daysLeft)[0];
    return soonest === undefined ? 'unknown' : `ok (${soonest.daysLeft}d)`;
  }
  return bad
    .map((r) => `${r.level === 'expired' ? 'EXPIRED' : 'WARN'} ${r.credential} ${r.daysLeft}d`)
    .join(', ');
}

/** One table row per client for `fleet status`. */
export function fleetRow(s: ClientStatus): string[] {
  const acs = s.acs.length === 0 ? '-' : `${s.acs.filter((a) => a.verified).length}/${s.acs.length} verified`;
  const sites = s.sites.map((x) => `${x.site}:${x.health}`).join(' ') || '-';
  return [s.client, worst(s.expiry), acs, s.drift, sites];
}

export const FLEET_HEADER = ['CLIENT', 'CREDENTIALS', 'ACS', 'DRIFT', 'SITES'] as const;

/** Lines naming everything that needs a human, for people (warnings under the table). */
export function warnings(s: ClientStatus): string[] {
  const out: string[] = [];
  for (const r of s.expiry)
    if (r.level !== 'ok')
      out.push(
        `${s.client}: ${r.credential} credential ${r.id} (${r.state}) expires ${r.expires} (${r.daysLeft}d)`,
      );
  for (const a of s.acs) if (!a.verified) out.push(`${s.client}: ACS record ${a.record} is ${a.state}`);
  if (s.drift !== 'none') out.push(`${s.client}: drift ${s.drift}`);
  for (const x of s.sites) for (const p of x.problems) out.push(`${s.client}/${x.site}: ${p}`);
  return out;
}
