/**
 * Failed Redis calls so far, from the server's /metrics (floodgate_redis_errors_total, all
 * commands). A call whose Redis reply came too late is answered by its failure mode, yet its
 * script still ran in Redis, so the script count alone cannot show it.
 */
export async function redisErrorCount(httpUrl: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  let total = 0;
  for (const m of (await res.text()).matchAll(/^floodgate_redis_errors_total(?:\{[^}]*\})? (\d+)/gm)) total += Number(m[1]);
  return total;
}
