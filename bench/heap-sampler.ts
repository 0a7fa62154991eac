/**
 * Loaded into the server process by `npm run bench -- --alloc` (node --import). SIGUSR2 starts
 * V8's sampling heap profiler, counting objects already collected too; the next SIGUSR2 stops it
 * and prints one line: the bytes allocated meanwhile, in total, by Floodgate's own code
 * (allocating function in server/ or client-sdk/ rather than node_modules or Node itself), and
 * by the functions that allocated most.
 */
import { Session } from 'node:inspector/promises';

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

export const ALLOC_LINE = 'heap-sampler:';

const session = new Session();
session.connect();
let sampling = false;

interface Sums {
  total: number;
  own: number;
  byFunction: Map<string, number>;
}

function sum(node: SampleNode, acc: Sums): Sums {
  const { functionName, url, lineNumber } = node.callFrame;
  acc.total += node.selfSize;
  if (/\/(server|client-sdk)\/dist\//.test(url)) acc.own += node.selfSize;
  const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|client-sdk)\//, '$1/')}:${lineNumber + 1}` : '';
  const name = `${functionName || '(anonymous)'} ${where}`.trim();
  acc.byFunction.set(name, (acc.byFunction.get(name) ?? 0) + node.selfSize);
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
  const { total, own, byFunction } = sum(profile.head, { total: 0, own: 0, byFunction: new Map() });
  const top = [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stdout.write(`${ALLOC_LINE}${JSON.stringify({ total, own, top })}\n`);
}

process.on('SIGUSR2', () => void toggle());
