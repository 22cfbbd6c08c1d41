// Shared leaf: what the receiver and the delivery engine may do to metrics — count and set, nothing
// else. ops/metrics.ts implements it (and serves /metrics); the lower rooms depend on this interface
// only, so no import runs up from receiver/ or delivery/ to ops/. No relaykit imports.

export type MetricLabels = Readonly<Record<string, string>>;

export interface MetricsSink {
  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels?: MetricLabels, by?: number): void;
  /** Sets a gauge. */
  set(name: string, labels: MetricLabels, value: number): void;
}
