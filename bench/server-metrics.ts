/**
 * Rate-limit keys the server has decided by a failure mode so far, from its /metrics
 * (floodgate_fallback_decisions_total, all modes): keys never sent to Redis, and keys whose Redis
 * reply came too late (their script still ran in Redis, so Redis's own counts cannot show them).
 */
export async function fallbackDecisionCount(httpUrl: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  let total = 0;
  for (const m of (await res.text()).matchAll(/^floodgate_fallback_decisions_total(?:\{[^}]*\})? (\d+)/gm)) total += Number(m[1]);
  return total;
}
