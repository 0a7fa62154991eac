/** The sum of every sample of a counter in the server's /metrics. */
async function counterTotal(httpUrl: string, name: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  let total = 0;
  for (const m of (await res.text()).matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))) total += Number(m[1]);
  return total;
}

/**
 * Rate-limit keys the server has decided by a failure mode so far (floodgate_fallback_decisions_total,
 * all modes): keys never sent to Redis, and keys whose Redis reply came too late (their script
 * still ran in Redis, so Redis's own counts cannot show them).
 */
export const fallbackDecisionCount = (httpUrl: string): Promise<number> => counterTotal(httpUrl, 'floodgate_fallback_decisions_total');

/** Checks the server denied from its deny cache so far, without Redis (floodgate_deny_cache_hits_total). */
export const denyCacheHitCount = (httpUrl: string): Promise<number> => counterTotal(httpUrl, 'floodgate_deny_cache_hits_total');
