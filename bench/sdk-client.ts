/**
 * A child process of the benches: an app's side of Floodgate. Makes CheckLimit checks through the
 * SDK, either at a fixed rate (RATE for DURATION_S, the checks due every millisecond, after
 * WARMUP_S at that rate unmeasured) or as fast as they are answered (TOTAL checks with WINDOW in
 * flight), over TRANSPORT ('stream' or 'unary') with installHttp2GcFixes() when FIXES=1 and
 * V8_FLAGS set through v8.setFlagsFromString() before the first check when given, then
 * prints one JSON line: checks per second, latency percentiles, failures, its own CPU per check
 * and what the fixes changed. Under --trace-gc-nvp its GC lines come first in the same output.
 */
import { createClient, type CheckTransport } from '@floodgate/client';
import { installHttp2GcFixes } from '@floodgate/client/http2';
import { setFlagsFromString } from 'node:v8';
import { pace } from './pace.js';
import { percentiles } from './stats.js';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};
const address = env('FLOODGATE_ADDRESS');
const transport = env('TRANSPORT', 'unary') as CheckTransport;
const userId = env('USER_ID', 'sdk-bench');
const fixes = env('FIXES', '0') === '1' ? installHttp2GcFixes() : undefined;
if (process.env.V8_FLAGS) setFlagsFromString(process.env.V8_FLAGS);

const client = createClient({ address, deadlineMs: 1_000, onUnavailable: 'throw', checkTransport: transport });
await client.checkLimit({ policy: 'general', userId: `${userId}-warm-up` });

// Sized up front: a growing array of every latency would leave its outgrown copies, megabytes, to
// full collections in the middle of the checks being timed.
let latenciesMs = new Float64Array(0);
let answered = 0;
let failures = 0;
const timing = (checks: number) => {
  latenciesMs = new Float64Array(checks);
  answered = 0;
  failures = 0;
};
const check = () => {
  const t = performance.now();
  return client.checkLimit({ policy: 'general', userId }).then(
    () => {
      latenciesMs[answered++] = performance.now() - t;
    },
    () => failures++,
  );
};

/** TOTAL checks, WINDOW of them in flight at any time. */
async function asFastAsAnswered(total: number, window: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(window, total) }, async () => {
      while (next++ < total) await check();
    }),
  );
}

const paced = !process.env.WINDOW;
// A fresh process runs its first second or so unoptimized: not the latency of an app that has
// been checking for a while.
const warmupS = Number(env('WARMUP_S', '0'));
if (paced && warmupS > 0) {
  timing(Number(env('RATE')) * warmupS);
  await pace(Number(env('RATE')), Number(env('RATE')) * warmupS, check);
}

const total = paced ? Number(env('RATE')) * Number(env('DURATION_S')) : Number(env('TOTAL'));
timing(total);
const cpuBefore = process.cpuUsage();
const started = performance.now();
if (paced) await pace(Number(env('RATE')), total, check);
else await asFastAsAnswered(total, Number(env('WINDOW')));
const elapsedS = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
client.close();
process.stdout.write(
  `${JSON.stringify({
    calls: total,
    failures,
    callsPerS: total / elapsedS,
    ...percentiles(latenciesMs.subarray(0, answered)),
    cpuUsPerCall: (cpu.user + cpu.system) / total,
    fixes: fixes && { sessionsWithTables: fixes.sessionsWithTables, transportsWithCallSets: fixes.transportsWithCallSets },
  })}\n`,
);
