import type { AlgorithmName } from '../policy/policy.js';
import type { Algorithm } from './algorithm.js';
import { fixedWindow } from './fixed-window.js';
import { slidingLog } from './sliding-log.js';
import { slidingWindow } from './sliding-window.js';
import { tokenBucket } from './token-bucket.js';

/** Every algorithm by name; a policy names one of these. */
export const ALGORITHM_IMPLS: Record<AlgorithmName, Algorithm<any>> = {
  sliding_log: slidingLog,
  sliding_window: slidingWindow,
  token_bucket: tokenBucket,
  fixed_window: fixedWindow,
};

export function algorithmFor(name: AlgorithmName): Algorithm<any> {
  return ALGORITHM_IMPLS[name];
}
