import type { ServerProcess } from '../test/support/server-process.js';
import { ALLOC_LINE } from './heap-sampler.js';

/** Node options that load the heap sampler into the server process (TypeScript through tsx). */
export const ALLOC_NODE_ARGS = ['--import', 'tsx', '--import', new URL('heap-sampler.ts', import.meta.url).pathname];

export interface Allocation {
  /** Bytes allocated per call, objects already collected included. */
  totalBytes: number;
  /** The part allocated by Floodgate's own code (server and client SDK), not libraries or Node. */
  ownBytes: number;
  /** The functions that allocated most, with their bytes per call. */
  top: Array<[string, number]>;
}

/** Bytes the server allocates per call of `load` (which makes `calls` calls), from the heap sampler. */
export async function allocationPerCall(server: ServerProcess, calls: number, load: () => Promise<unknown>): Promise<Allocation> {
  await toggle(server, (r) => r.started === true);
  await load();
  const r = await toggle(server, (r) => typeof r.total === 'number');
  const top = (r.top as Array<[string, number]>).map(([name, bytes]): [string, number] => [name, bytes / calls]);
  return { totalBytes: (r.total as number) / calls, ownBytes: (r.own as number) / calls, top };
}

/** Signals the sampler and waits for its next line that `matches`. */
async function toggle(server: ServerProcess, matches: (r: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const seen = server.logs.length;
  server.proc.kill('SIGUSR2');
  for (let waited = 0; waited < 30_000; waited += 20) {
    for (const line of server.logs.slice(seen)) {
      if (!line.startsWith(ALLOC_LINE)) continue;
      const r = JSON.parse(line.slice(ALLOC_LINE.length)) as Record<string, unknown>;
      if (matches(r)) return r;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the heap sampler in the server did not answer (was it started with ALLOC_NODE_ARGS?)');
}
