import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from './exec.js';
import { percentiles, type LoadResult } from './stats.js';

export interface H2loadRun {
  /** http://host:port/<package.Service>/<Method> */
  url: string;
  /** File holding the framed gRPC request body (see grpc-body.ts). */
  bodyFile: string;
  clients: number;
  /** Max concurrent streams per client (HTTP/2 multiplexing). */
  streams: number;
  /** Calls to make in total (a fixed count, so Redis's counters can be checked against it). */
  requests: number;
  /** Fixed request rate per client; unset drives as fast as the server answers. */
  rpsPerClient?: number;
  /** Directory for h2load's per-request log. */
  workDir: string;
}

export interface H2loadResult extends LoadResult {
  latenciesMs: number[];
}

let runs = 0;

/**
 * Runs h2load with a prepared gRPC body. h2load only sees HTTP statuses (a gRPC error is still
 * HTTP 200), so callers must prove the gRPC outcome another way (see run.ts).
 */
export async function h2load(run: H2loadRun): Promise<H2loadResult> {
  const logFile = join(run.workDir, `h2load-${process.pid}-${runs++}.tsv`);
  const args = [
    '-c', String(run.clients),
    '-m', String(run.streams),
    '-n', String(run.requests),
    '-d', run.bodyFile,
    '-H', 'content-type: application/grpc',
    '-H', 'te: trailers',
    `--log-file=${logFile}`,
    ...(run.rpsPerClient ? ['--rps', String(run.rpsPerClient)] : []),
    run.url,
  ];
  const stdout = await exec('h2load', args, 'install nghttp2-client for h2load');
  try {
    return parseH2load(stdout, readFileSync(logFile, 'utf8'));
  } finally {
    rmSync(logFile, { force: true });
  }
}

/** Throughput and counts from h2load's summary; latency percentiles from its per-request log. */
export function parseH2load(stdout: string, log: string): H2loadResult {
  const rate = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded/.exec(stdout);
  if (!rate || !counts) throw new Error(`unexpected h2load output:\n${stdout}`);
  const latenciesMs: number[] = [];
  let non200 = 0;
  for (const line of log.split('\n')) {
    if (!line) continue;
    const [, httpStatus, elapsedUs] = line.split('\t');
    if (httpStatus !== '200') non200++;
    latenciesMs.push(Number(elapsedUs) / 1000);
  }
  const [total, done, succeeded] = counts.slice(1).map(Number) as [number, number, number];
  return {
    callsPerS: Number(rate[1]),
    done,
    // Anything asked for but not answered with success, or logged with another HTTP status.
    failed: Math.max(total - succeeded, non200),
    latenciesMs,
    ...percentiles(latenciesMs),
  };
}

export interface SpreadRun {
  url: string;
  bodyFile: string;
  ratePerS: number;
  durationS: number;
  /** h2load processes, each one connection at ratePerS / processes. */
  processes: number;
  workDir: string;
}

/**
 * A fixed total rate from several h2load processes started a fraction of 10 ms apart: one h2load
 * sends its --rps calls in a burst every 10 ms, so their bursts interleave into smaller, more
 * frequent ones. h2load is light; a Node client at this rate needs as much CPU as the server.
 */
export async function h2loadSpread(run: SpreadRun): Promise<H2loadResult> {
  const rps = Math.max(1, Math.round(run.ratePerS / run.processes));
  const results = await Promise.all(
    Array.from({ length: run.processes }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * 10) / run.processes));
      return h2load({ url: run.url, bodyFile: run.bodyFile, clients: 1, streams: 256, requests: rps * run.durationS, rpsPerClient: rps, workDir: run.workDir });
    }),
  );
  const latenciesMs = results.flatMap((r) => r.latenciesMs);
  return {
    callsPerS: results.reduce((sum, r) => sum + r.callsPerS, 0),
    done: results.reduce((sum, r) => sum + r.done, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    latenciesMs,
    ...percentiles(latenciesMs),
  };
}
