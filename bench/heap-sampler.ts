/**
 * Loaded into the server process by `npm run bench -- --alloc` (node --import). SIGUSR2 starts
 * V8's sampling heap profiler, counting objects already collected too; the next SIGUSR2 stops it
 * and prints one line: the bytes allocated meanwhile, in total and by Floodgate's own code
 * (allocating function in server/ or client-sdk/ rather than node_modules or Node itself).
 */
import { Session } from 'node:inspector/promises';

interface SampleNode {
  callFrame: { url: string };
  selfSize: number;
  children: SampleNode[];
}

export const ALLOC_LINE = 'heap-sampler:';

const session = new Session();
session.connect();
let sampling = false;

function sum(node: SampleNode, acc: { total: number; own: number }): { total: number; own: number } {
  acc.total += node.selfSize;
  if (/\/(server|client-sdk)\/dist\//.test(node.callFrame.url)) acc.own += node.selfSize;
  for (const child of node.children) sum(child, acc);
  return acc;
}

async function toggle(): Promise<void> {
  if (!sampling) {
    sampling = true;
    // 1 KiB between samples: small enough for a per-call figure over tens of thousands of calls.
    await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    process.stdout.write(`${ALLOC_LINE}${JSON.stringify({ started: true })}\n`);
    return;
  }
  sampling = false;
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SampleNode } };
  process.stdout.write(`${ALLOC_LINE}${JSON.stringify(sum(profile.head, { total: 0, own: 0 }))}\n`);
}

process.on('SIGUSR2', () => void toggle());
