// Sizes and durations in the config always carry a unit ("35MB", "30s", "5d"); these parse them into
// bytes and milliseconds, and print them back for people (the CLI's tables and the status page use the
// same short forms). Pure, no I/O.

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "35MB" → 36700160. Sizes are binary (1 MB = 1024 KiB), as mail size limits conventionally are. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase();
  const factor = unit === undefined ? undefined : SIZE_UNITS[unit];
  if (!m || factor === undefined) {
    throw new Error(`"${text}" is not a size; use a number and a unit, e.g. 35MB, 512KB, 100B`);
  }
  return Math.round(Number(m[1]) * factor);
}

/** "90s" → 90000. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase();
  const factor = unit === undefined ? undefined : DURATION_UNITS[unit];
  if (!m || factor === undefined) {
    throw new Error(`"${text}" is not a duration; use a number and a unit: ms, s, m, h or d (e.g. 30s, 5m)`);
  }
  return Math.round(Number(m[1]) * factor);
}

export function formatDuration(ms: number): string {
  for (const [unit, factor] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
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

/** Binary units, as the config's sizes: 512B, 1.5KB, 12.0MB. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)}KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)}GB`;
}
