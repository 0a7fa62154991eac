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
  /** The longest pause of a full collection. */
  longestFullMs: number;
  /**
   * Of the full collections' pauses: finalizing dead external strings (Node makes every received
   * HTTP/2 header value one), and evacuating live objects (young ones and compacted pages).
   */
  externalStringsMs: number;
  evacuateMs: number;
}

const field = (line: string, name: string): number => Number(new RegExp(` ${name.replaceAll('.', '\\.')}=([\\d.]+)(?: |$)`).exec(line)?.[1] ?? 0);

/** Sums V8's `--trace-gc-nvp` lines: scavenges (gc=s), what they promoted, full collections, pauses. */
export function summarizeTraceGc(trace: string): ScavengeSummary {
  const summary: ScavengeSummary = { scavenges: 0, bad: 0, promotedBytes: 0, fullCollections: 0, pauseMs: 0, longestFullMs: 0, externalStringsMs: 0, evacuateMs: 0 };
  for (const line of trace.split('\n')) {
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (!kind) continue;
    const pause = field(line, 'pause');
    summary.pauseMs += pause;
    if (kind !== 's') {
      summary.fullCollections++;
      summary.longestFullMs = Math.max(summary.longestFullMs, pause);
      summary.externalStringsMs += field(line, 'clear.external_string_table');
      summary.evacuateMs += field(line, 'evacuate');
      continue;
    }
    const promoted = field(line, 'promoted');
    summary.scavenges++;
    summary.promotedBytes += promoted;
    if (promoted > BAD_PROMOTION_BYTES) summary.bad++;
  }
  return summary;
}
