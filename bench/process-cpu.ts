import { readFileSync } from 'node:fs';

const TICK_MS = 10; // Linux USER_HZ is 100

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc. CPU per call is far
 * less disturbed than throughput by other work on a shared machine.
 */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
