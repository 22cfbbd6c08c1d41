// Small HTTP helpers of the ACS transport: a fetch with a per-request timeout tied to the job's abort
// signal, and translation of what went wrong into classification facts (errno, Retry-After).
/** Retry-After as seconds or an HTTP-date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface TimedSignal {
  readonly signal: AbortSignal;
  /** Which fired: the job's signal (shutdown) or our own timer. */
  reason(): 'ABORT' | 'TIMEOUT' | undefined;
}

export function timedSignal(job: AbortSignal, timeoutMs: number): TimedSignal {
  const timer = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([job, timer]);
  return {
    signal,
    reason: () => (job.aborted ? 'ABORT' : timer.aborted ? 'TIMEOUT' : undefined),
  };
}

/** The errno to classify a thrown fetch error by. */
export function errnoOf(err: unknown, timed: TimedSignal): string | undefined {
  const r = timed.reason();
  if (r !== undefined) return r;
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    e = e.cause;
  }
  return undefined;
}
