import type { RateLimitServiceServer } from '@floodgate/client';
import type { RateLimiter } from '../limiter/rate-limiter.js';
import type { Logger } from '../log.js';
import { unary } from './call.js';
import type { CheckStreams } from './check-stream.js';

export function rateLimitService(limiter: RateLimiter, checkStreams: CheckStreams, log: Logger): RateLimitServiceServer {
  return {
    checkLimitStream: checkStreams.handle,
    checkLimit: unary(log, 'CheckLimit', (req) => limiter.check(req)),
    checkLimits: unary(log, 'CheckLimits', async (req) => ({ results: await limiter.checkMany(req.checks) })),
    getLimitStatus: unary(log, 'GetLimitStatus', (req) => limiter.status(req.userId, req.ip)),
  };
}
