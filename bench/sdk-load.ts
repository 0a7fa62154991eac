import type { CheckTransport } from '@floodgate/client';
import { exec } from './exec.js';
import type { LoadResult } from './stats.js';
import { summarizeTraceGc } from './trace-gc.js';

const CLIENT = new URL('sdk-client.ts', import.meta.url).pathname;

export interface SdkRun {
  address: string;
  transport: CheckTransport;
  /** installHttp2GcFixes() in the client. */
  fixes?: boolean;
  /**
   * Paced: `rate` checks per second for `durationS` after `warmupS` (default 1) unmeasured; else
   * `total` checks with `window` in flight.
   */
  load: { rate: number; durationS: number; warmupS?: number } | { total: number; window: number };
  /** Run the client under V8's GC trace; its lines are returned in `trace`. */
  traceGc?: boolean;
  /** Options for node before the client script: SDK_CLIENT_NODE_ARGS unless given. */
  nodeArgs?: readonly string[];
  /** V8 flags the client sets itself (v8.setFlagsFromString) before its first check. */
  v8Flags?: string;
  userId?: string;
}

export interface SdkResult extends LoadResult {
  cpuUsPerCall: number;
  fixes?: { sessionsWithTables: number; transportsWithCallSets: number };
  trace: string;
}

/**
 * The V8 options the SDK's README recommends to an app that checks at high rates, as the server
 * runs with them (`npm run bench:client-v8`): without the first, a process that starts under a
 * burst of checks can have V8 allocate its per-check objects in the old generation for the rest
 * of its life; without the second, each young-generation collection waits for helper threads
 * that the other processes on the same cores hold off the CPU.
 */
export const SDK_CLIENT_NODE_ARGS: readonly string[] = ['--no-allocation-site-pretenuring', '--no-parallel-scavenge'];

/** Checks through the SDK from a child process (sdk-client.ts), so the bench's own heap stays out of its latencies. */
export async function sdkLoad(run: SdkRun): Promise<SdkResult> {
  const env: Record<string, string> = { FLOODGATE_ADDRESS: run.address, TRANSPORT: run.transport, FIXES: run.fixes ? '1' : '0', USER_ID: run.userId ?? 'sdk-bench', V8_FLAGS: run.v8Flags ?? '' };
  if ('rate' in run.load) Object.assign(env, { RATE: String(run.load.rate), DURATION_S: String(run.load.durationS), WARMUP_S: String(run.load.warmupS ?? 1) });
  else Object.assign(env, { TOTAL: String(run.load.total), WINDOW: String(run.load.window) });
  const out = await exec(process.execPath, [...(run.nodeArgs ?? SDK_CLIENT_NODE_ARGS), ...(run.traceGc ? ['--trace-gc-nvp'] : []), '--import', 'tsx', CLIENT], '', env);
  // Its one JSON line; under the GC trace, V8's lines may also come after it.
  const result = JSON.parse(out.split('\n').findLast((line) => line.startsWith('{')) ?? '') as Omit<SdkResult, 'trace' | 'done' | 'failed'> & { calls: number; failures: number };
  return { ...result, done: result.calls - result.failures, failed: result.failures, trace: out };
}

/**
 * A run made under the GC trace as table cells: what the client promoted, its full collections
 * and GC pauses, its CPU per check (`cpuDigits` decimals), p50 and p99. A run with a failed check
 * is no measurement: it throws.
 */
export function clientGcCells(run: SdkResult, cpuDigits: number): string {
  if (run.failed > 0) throw new Error(`${run.failed} of ${run.done + run.failed} checks failed`);
  const gc = summarizeTraceGc(run.trace);
  return `${(gc.promotedBytes / 1e6).toFixed(0)} MB | ${gc.fullCollections} | ${gc.pauseMs.toFixed(0)} ms | ${run.cpuUsPerCall.toFixed(cpuDigits)} | ${run.p50Ms.toFixed(2)} | ${run.p99Ms.toFixed(2)}`;
}
