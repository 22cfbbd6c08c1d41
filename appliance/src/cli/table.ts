// CLI room: human output helpers — aligned columns, ISO times with ages, sizes with units. Pure
// string functions; --json output never goes through here.

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

/** A duration as its two largest units: 45s, 3m12s, 2h05m, 3d04h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${pad(h)}h`;
  if (h > 0) return `${h}h${pad(m)}m`;
  if (m > 0) return `${m}m${pad(s % 60)}s`;
  return `${s}s`;
}

/** "3m12s ago" for a past time, "in 4m00s" for a future one. */
export function relative(at: number | string, now: number): string {
  const delta = new Date(at).getTime() - now;
  return delta > 0 ? `in ${age(delta)}` : `${age(-delta)} ago`;
}

/** Binary units, as the config's sizes: 512B, 1.5KB, 12.0MB. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)}KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)}GB`;
}
