// Bounded soak: mixed load on a real server process for SOAK_SECONDS (default 60), printing the
// server heap (after GC), RSS and the Redis key count over time. Run: npm run soak
import { soak } from '../test/support/soak.js';

const seconds = Number(process.env.SOAK_SECONDS ?? 60);
const users = Number(process.env.SOAK_USERS ?? 5_000);
const ips = Number(process.env.SOAK_IPS ?? 1_000);
const workers = Number(process.env.SOAK_WORKERS ?? 32);

const r = await soak({ durationMs: seconds * 1_000, sampleEveryMs: 5_000, workers, users, ips });
const fmt = (n: number) => n.toFixed(1);
console.log(`soak: ${seconds} s, ${workers} callers, ${users} users, ${ips} IPs; ${r.calls} calls, ${Math.round(r.calls / seconds)}/s`);
console.log('| t (s) | calls | heap after GC (MiB) | RSS (MiB) | Redis keys |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const s of r.samples) console.log(`| ${Math.round(s.atMs / 1000)} | ${s.calls} | ${fmt(s.heapMb)} | ${fmt(s.rssMb)} | ${s.redisKeys} |`);
const half = r.samples.slice(Math.floor(r.samples.length / 2));
const heap = half.map((s) => s.heapMb);
console.log(`second half: heap ${fmt(Math.min(...heap))}–${fmt(Math.max(...heap))} MiB; keys ${half[0]!.redisKeys} → ${half.at(-1)!.redisKeys} (bound ${r.keyBound})`);
console.log(`unexpected errors: ${r.unexpectedErrors.length}${r.unexpectedErrors.length ? ` (${r.unexpectedErrors.join('; ')})` : ''}`);
process.exit(r.unexpectedErrors.length ? 1 : 0);
