// infra/ room: which credentials exist at a given moment — the rotation-with-overlap rules as pure
// functions. A rotation adds the new credential and keeps the previous one registered for
// credentialGraceDays (or until an explicit retire), so appliances not yet re-bundled, or still
// holding a cached secret, keep working. Certificates rotate by generation (config), client secrets
// by period (time); both give the same slot shape, which becomes the credentialExpiry stack output
// that `relaykit tenant rotate` (Automation API) reads.
import type { CertificateRotation } from './config-keys.ts';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export interface CredentialSlot {
  /** Identifies the credential: "g<generation>" for certificates, the period's start day for secrets. */
  readonly id: string;
  readonly state: 'current' | 'previous';
  /** Logical-name suffix of the slot's resources ("" keeps generation 1 at its original names). */
  readonly suffix: string;
  /** For previous slots: the moment after which the next `pulumi up` removes it. */
  readonly retiresAfter?: string;
}

/**
 * Certificate slots: the current generation, plus the previous one while `rotatedAt + graceDays` is
 * in the future and no retire was asked for.
 */
export function certificateSlots(
  rotation: CertificateRotation,
  graceDays: number,
  now: Date,
): CredentialSlot[] {
  const slot = (
    generation: number,
    state: CredentialSlot['state'],
    retiresAfter?: string,
  ): CredentialSlot => ({
    id: `g${generation}`,
    state,
    suffix: generation === 1 ? '' : `-g${generation}`,
    ...(retiresAfter === undefined ? {} : { retiresAfter }),
  });
  const slots = [slot(rotation.generation, 'current')];
  if (rotation.generation > 1 && !rotation.retirePrevious && rotation.rotatedAt !== undefined) {
    const until = Date.parse(`${rotation.rotatedAt}T00:00:00Z`) + graceDays * DAY;
    if (now.getTime() < until) slots.push(slot(rotation.generation - 1, 'previous', iso(until)));
  }
  return slots;
}

export interface SecretSlot extends CredentialSlot {
  readonly periodStart: string;
  readonly endDate: string;
}

/**
 * Deterministic client-secret window. Time is cut into fixed periods of `rotationDays` (counted from
 * the Unix epoch); the secret of a period expires `lifetimeDays` after the period starts. Every
 * `pulumi up` within a period yields the same inputs (no diff); the first run in a new period adds
 * the new secret. lifetime >= rotation + grace is enforced by config.ts.
 */
export function rotationWindow(
  now: Date,
  rotationDays: number,
  lifetimeDays: number,
): { periodStart: string; endDate: string } {
  const period = rotationDays * DAY;
  const start = Math.floor(now.getTime() / period) * period;
  return { periodStart: iso(start), endDate: iso(start + lifetimeDays * DAY) };
}

/**
 * Secret slots: this period's secret, plus the previous period's for `graceDays` after this period
 * began (unless retired). Each slot keeps its own resource name, so adding one never replaces the
 * other.
 */
export function secretSlots(
  now: Date,
  rotationDays: number,
  lifetimeDays: number,
  graceDays: number,
  retirePrevious: boolean,
): SecretSlot[] {
  const slot = (
    w: { periodStart: string; endDate: string },
    state: SecretSlot['state'],
    retiresAfter?: string,
  ): SecretSlot => ({
    id: w.periodStart.slice(0, 10),
    state,
    suffix: `-${w.periodStart.slice(0, 10).replace(/-/g, '')}`,
    periodStart: w.periodStart,
    endDate: w.endDate,
    ...(retiresAfter === undefined ? {} : { retiresAfter }),
  });
  const current = rotationWindow(now, rotationDays, lifetimeDays);
  const slots = [slot(current, 'current')];
  const start = Date.parse(current.periodStart);
  const until = start + graceDays * DAY;
  if (!retirePrevious && now.getTime() < until) {
    slots.push(slot(rotationWindow(new Date(start - 1), rotationDays, lifetimeDays), 'previous', iso(until)));
  }
  return slots;
}

/** One line of the credentialExpiry stack output. */
export interface CredentialExpiry {
  readonly id: string;
  readonly state: 'current' | 'previous';
  /** RFC 3339 end of validity. */
  readonly expires: string;
  readonly retiresAfter?: string;
}
