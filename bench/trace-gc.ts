/** Reading V8's `--trace-gc-nvp` output (`npm run bench:gc`). */

/** A scavenge that promotes more than this is one of the bad state (the good one promotes ≈ 50 KB). */
export const BAD_PROMOTION_BYTES = 500_000;

export interface ScavengeSummary {
  scavenges: number;
  /** Scavenges that promoted more than BAD_PROMOTION_BYTES. */
  bad: number;
  promotedBytes: number;
  fullCollections: number;
  /** Time the process stood still for garbage collection, scavenges and full collections. */
  pauseMs: number;
}

/** Sums V8's `--trace-gc-nvp` lines: scavenges (gc=s), what they promoted, full collections, pauses. */
export function summarizeTraceGc(trace: string): ScavengeSummary {
  const summary: ScavengeSummary = { scavenges: 0, bad: 0, promotedBytes: 0, fullCollections: 0, pauseMs: 0 };
  for (const line of trace.split('\n')) {
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (!kind) continue;
    summary.pauseMs += Number(/ pause=([\d.]+) /.exec(line)?.[1] ?? 0);
    if (kind !== 's') {
      summary.fullCollections++;
      continue;
    }
    const promoted = Number(/ promoted=(\d+) /.exec(line)?.[1] ?? 0);
    summary.scavenges++;
    summary.promotedBytes += promoted;
    if (promoted > BAD_PROMOTION_BYTES) summary.bad++;
  }
  return summary;
}
