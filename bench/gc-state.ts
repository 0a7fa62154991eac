/**
 * `npm run bench:gc`: how often a bare `node:http2` server is in the garbage collection state
 * that sets the paced p99 (see docs/benchmarks.md), with responses that end in trailers (as gRPC
 * responses do) and without. Each variant runs in its own process under `--trace-gc-nvp`, paced by
 * 10 h2load processes whose connections live for the whole run or a third of it; the variants
 * alternate over the rounds. `npm run bench:gc -- 3` runs 3 rounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess, type Program } from '../test/support/server-process.js';
import { healthCheckBody } from './grpc-body.js';
import { h2loadSpread } from './h2load.js';
import { summarizeTraceGc, type ScavengeSummary } from './trace-gc.js';

/** The bare server under V8's GC trace, whose lines land in its logs. */
const BARE_SERVER: Program = {
  main: new URL('http2-bare-server.ts', import.meta.url).pathname,
  ready: 'listening',
  nodeArgs: ['--trace-gc-nvp', '--import', 'tsx'],
};
const RATE = 6_500;
const DURATION_S = 12;
const ROUNDS = Number(process.argv[2] ?? 3);

/** Connections live for `connectionS` seconds: the loaders are restarted that often. */
async function runVariant(trailers: boolean, connectionS: number, workDir: string): Promise<ScavengeSummary & { calls: number }> {
  const server = await ServerProcess.start({ TRAILERS: trailers ? '1' : '0' }, 15_000, BARE_SERVER);
  const bodyFile = join(workDir, 'body.bin');
  writeFileSync(bodyFile, healthCheckBody());
  const startAt = server.logs.length;
  let calls = 0;
  for (let s = 0; s < DURATION_S; s += connectionS) {
    const load = await h2loadSpread({ url: `http://${server.address}/grpc.health.v1.Health/Check`, bodyFile, ratePerS: RATE, durationS: connectionS, processes: 10, workDir });
    if (load.failed > 0) throw new Error(`${load.failed} calls failed`);
    calls += load.done;
  }
  await server.stop();
  return { ...summarizeTraceGc(server.logs.slice(startAt).join('\n')), calls };
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'fg-gc-'));
  try {
    process.stdout.write(
      `${RATE} calls/s for ${DURATION_S} s per run\n\n| Round | Response ends with | Connections live | calls | scavenges | in the bad state | promoted | full collections |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const connectionS of [DURATION_S, DURATION_S / 3]) {
        for (const trailers of [true, false]) {
          const r = await runVariant(trailers, connectionS, workDir);
          const share = r.scavenges ? (100 * r.bad) / r.scavenges : 0;
          process.stdout.write(
            `| ${round} | ${trailers ? 'trailers' : 'the message (status in HEADERS)'} | ${connectionS} s | ${r.calls} | ${r.scavenges} | ${r.bad} (${share.toFixed(0)}%) | ${(r.promotedBytes / 1e6).toFixed(0)} MB | ${r.fullCollections} |\n`,
          );
        }
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:gc failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
