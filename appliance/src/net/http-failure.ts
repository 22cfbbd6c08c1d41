// Outbound HTTP, what a failed request tells: Retry-After (RFC 9110 §10.2.3), a per-request timeout
// tied to the caller's abort signal that still says which of the two fired, and the network error
// code of a thrown fetch error. One implementation for every transport that speaks HTTP (Graph, ACS).
// No I/O.

/** Retry-After as milliseconds: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface TimedSignal {
  readonly signal: AbortSignal;
  /** Which fired: the caller's signal (shutdown) or our own timer. */
  reason(): 'ABORT' | 'TIMEOUT' | undefined;
  /** The request is over: stops the timer and stops listening to the caller's signal. */
  dispose(): void;
}

/**
 * A signal that fires with the caller's (its reason passed on) or after `timeoutMs` (a TimeoutError),
 * on one AbortController and one timer: AbortSignal.any over AbortSignal.timeout costs weak
 * references and a finaliser per request. Call dispose() when the request has settled, or the
 * caller's signal keeps a listener per request until it is collected.
 */
export function timedSignal(job: AbortSignal, timeoutMs: number): TimedSignal {
  const ac = new AbortController();
  let timedOut = false;
  const onJob = () => ac.abort(job.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, timeoutMs);
  timer.unref();
  if (job.aborted) onJob();
  else job.addEventListener('abort', onJob, { once: true });
  return {
    signal: ac.signal,
    reason: () => (job.aborted ? 'ABORT' : timedOut ? 'TIMEOUT' : undefined),
    dispose: () => {
      clearTimeout(timer);
      job.removeEventListener('abort', onJob);
    },
  };
}

/**
 * The errno to classify a thrown fetch error by: ABORT or TIMEOUT when `timed` fired, else the first
 * error code (ECONNRESET, UND_ERR_SOCKET, ...) along the error's cause chain.
 */
export function errnoOf(err: unknown, timed?: TimedSignal): string | undefined {
  const r = timed?.reason();
  if (r !== undefined) return r;
  let e: unknown = err;
  for (let i = 0; i < 4 && e !== undefined && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
