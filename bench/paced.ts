import { connect } from 'node:http2';
import { installHttp2GcFixes, useStreamTablesIn } from '@floodgate/client/http2';
import { grpcRequest } from './grpc-post.js';
import { pace } from './pace.js';
import { percentiles, type LoadResult } from './stats.js';

export interface PacedRun {
  address: string;
  path: string;
  body: Buffer;
  ratePerS: number;
  durationS: number;
  connections: number;
}

/**
 * Calls at a fixed rate, spread evenly over time (see pace). Every reply's grpc-status is
 * checked; latency runs from send to the last byte of the response.
 */
export async function pacedLoad(run: PacedRun): Promise<LoadResult & { grpcFailures: number; firstFailure: string; loaderCpuUs: number }> {
  // Without them this loader, like any Node HTTP/2 client, promotes every call it makes and pays
  // for it in CPU and in its own latency (see the SDK's installHttp2GcFixes). Sessions opened
  // through the ESM `connect` binding need their tables given here.
  installHttp2GcFixes();
  // The default 10 MB per session is reached when the server falls behind and calls pile up.
  const sessions = Array.from({ length: run.connections }, () => connect(`http://${run.address}`, { maxSessionMemory: 256 }));
  for (const s of sessions) useStreamTablesIn(s);
  const total = Math.round(run.ratePerS * run.durationS);
  const latenciesMs: number[] = [];
  let grpcFailures = 0;
  let firstFailure = '';
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  try {
    await pace(run.ratePerS, total, (i) => {
      const t0 = performance.now();
      return grpcRequest(sessions[i % sessions.length]!, run.path, run.body).then(
        (reply) => {
          latenciesMs.push(performance.now() - t0);
          if (reply.grpcStatus !== 0 && grpcFailures++ === 0) firstFailure = `grpc-status ${reply.grpcStatus}: ${reply.grpcMessage}`;
        },
        (err: Error) => {
          firstFailure ||= err.message; // counted as failed: total minus answered
        },
      );
    });
  } finally {
    for (const s of sessions) s.close();
  }
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { callsPerS: total / elapsedS, done: latenciesMs.length, failed: total - latenciesMs.length, grpcFailures, firstFailure, loaderCpuUs: (cpu.user + cpu.system) / total, ...percentiles(latenciesMs) };
}
