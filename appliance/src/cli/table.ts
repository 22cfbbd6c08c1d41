// CLI room: human output helpers — aligned columns, ISO times with ages, sizes with units. Pure
// string functions; --json output never goes through here. Ages and sizes are the config's own
// short forms (config/units.ts), shared with the status page.
import { age, size } from '../config/units.ts';

export { age, size };

/** Rows under a header, columns padded to the widest cell, two spaces apart; the last is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "key   value" lines, keys padded to the widest; empty values are left out. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string[] {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`);
}

/** 2026-12-03T06:30:05Z: ISO 8601 in UTC, to the second. */
export function isoTime(at: number | string): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "3m12s ago" for a past time, "in 4m00s" for a future one. */
export function relative(at: number | string, now: number): string {
  const delta = new Date(at).getTime() - now;
  return delta > 0 ? `in ${age(delta)}` : `${age(-delta)} ago`;
}
