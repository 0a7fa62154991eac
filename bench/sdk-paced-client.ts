/**
 * Child of `npm run bench:client`: an app's side of Floodgate. Makes CheckLimit calls through the
 * SDK at a fixed rate (the calls due every millisecond), with installHttp2GcFixes() when FIXES=1,
 * then prints one JSON line: latency percentiles, failures, its own CPU per call and what the
 * fixes changed. Run under --trace-gc-nvp, whose lines the parent reads from the same output.
 */
import { createClient } from '@floodgate/client';
import { installHttp2GcFixes } from '@floodgate/client/http2';
import { pace } from './pace.js';
import { percentiles } from './stats.js';

const address = process.env.FLOODGATE_ADDRESS!;
const rate = Number(process.env.RATE);
const durationS = Number(process.env.DURATION_S);
const fixes = process.env.FIXES === '1' ? installHttp2GcFixes() : undefined;

const client = createClient({ address, deadlineMs: 1_000, onUnavailable: 'throw' });
await client.checkLimit({ policy: 'general', userId: 'sdk-bench-warm-up' });

const total = rate * durationS;
const latenciesMs: number[] = [];
let failures = 0;
const cpuBefore = process.cpuUsage();
await pace(rate, total, () => {
  const t = performance.now();
  return client.checkLimit({ policy: 'general', userId: 'sdk-bench' }).then(
    () => latenciesMs.push(performance.now() - t),
    () => failures++,
  );
});
const cpu = process.cpuUsage(cpuBefore);
client.close();
process.stdout.write(
  `${JSON.stringify({
    calls: total,
    failures,
    ...percentiles(latenciesMs),
    cpuUsPerCall: (cpu.user + cpu.system) / total,
    fixes: fixes && { sessionsWithTables: fixes.sessionsWithTables, transportsWithCallSets: fixes.transportsWithCallSets },
  })}\n`,
);
