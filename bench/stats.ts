/** One measured load: calls answered per second and latency in ms. */
export interface LoadResult {
  callsPerS: number;
  /** Calls completed in the measured period. */
  done: number;
  /** Calls that did not complete with HTTP 200 (transport failures). */
  failed: number;
  p50Ms: number;
  p99Ms: number;
}

/** Nearest-rank percentiles of latencies in ms. */
export function percentiles(latenciesMs: ArrayLike<number>): { p50Ms: number; p99Ms: number } {
  if (latenciesMs.length === 0) return { p50Ms: NaN, p99Ms: NaN };
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}
