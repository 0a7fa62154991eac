import type { FastifyReply, FastifyRequest } from 'fastify';
import { httpRateLimiter, type RateLimitOptions } from './http-limit.js';

export { decisionOf, type RateLimitOptions } from './http-limit.js';

/**
 * Fastify hook (onRequest or preHandler): asks Floodgate about each request, sets the
 * RateLimit headers on every response and refuses with 429 (or 403 suspended, 503 no limiter)
 * and the standard error body.
 *
 *   app.get('/api/ai', { onRequest: rateLimit({ client, policy: 'ai', userId: (r) => … }) }, handler);
 */
export function rateLimit(options: RateLimitOptions<FastifyRequest>): (
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined> {
  const limit = httpRateLimiter(options, {
    ip: (req) => req.ip,
    header: (req, name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    },
  });
  return async (request, reply) => {
    const outcome = await limit(request);
    reply.headers(outcome.headers);
    // Returning the sent reply tells Fastify to skip the rest of the chain.
    return outcome.refusal ? reply.code(outcome.refusal.status).send(outcome.refusal.body) : undefined;
  };
}
