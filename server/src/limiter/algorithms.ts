import type { AlgorithmName } from '../policy/policy.js';
import type { Algorithm } from './algorithm.js';
import { slidingLog } from './sliding-log.js';

/** Every algorithm by name; a policy names one of these. */
export const ALGORITHM_IMPLS: Partial<Record<AlgorithmName, Algorithm<any>>> = {
  sliding_log: slidingLog,
};

export function algorithmFor(name: AlgorithmName): Algorithm<any> {
  const impl = ALGORITHM_IMPLS[name];
  if (!impl) throw new Error(`algorithm ${name} is not implemented`);
  return impl;
}
