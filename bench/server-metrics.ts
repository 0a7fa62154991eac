/** The server's counters the bench reads around each run, from one GET of its /metrics. */
export interface ServerCounters {
  /**
   * Rate-limit keys decided by a failure mode (floodgate_fallback_decisions_total, all modes):
   * keys never sent to Redis, and keys whose Redis reply came too late (their script still ran in
   * Redis, so Redis's own counts cannot show them).
   */
  fallbacks: number;
  /** Checks denied from the deny cache, without Redis (floodgate_deny_cache_hits_total). */
  cacheHits: number;
}

export async function serverCounters(httpUrl: string): Promise<ServerCounters> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  return { fallbacks: counterTotal(text, 'floodgate_fallback_decisions_total'), cacheHits: counterTotal(text, 'floodgate_deny_cache_hits_total') };
}

/** The sum of every sample of a counter in a Prometheus exposition. */
function counterTotal(text: string, name: string): number {
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))) total += Number(m[1]);
  return total;
}
