import type { Request, RequestHandler } from 'express';
import { httpRateLimiter, type RateLimitOptions } from './http-limit.js';

export { decisionOf, type RateLimitOptions } from './http-limit.js';

/**
 * Express middleware: asks Floodgate about each request, sets the RateLimit headers on every
 * response and refuses with 429 (or 403 suspended, 503 no limiter) and the standard error body.
 *
 *   app.use('/api/ai', rateLimit({ client, policy: 'ai', userId: (req) => req.get('x-user-id') }));
 */
export function rateLimit(options: RateLimitOptions<Request>): RequestHandler {
  const limit = httpRateLimiter(options, { ip: (req) => req.ip, header: (req, name) => req.get(name) });
  return (req, res, next) => {
    limit(req).then((outcome) => {
      res.set(outcome.headers);
      if (outcome.refusal) res.status(outcome.refusal.status).json(outcome.refusal.body);
      else next();
    }, next);
  };
}
