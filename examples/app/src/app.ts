import { randomUUID } from 'node:crypto';
import { FloodgateError, scopeName, status, type FloodgateClient } from '@floodgate/client';
import { rateLimit } from '@floodgate/client/express';
import express, { type ErrorRequestHandler, type Request } from 'express';
import type { Logger } from 'pino';

/** The policies with routes of their own; every other route counts against `general`. */
export const ROUTE_POLICIES = ['ai', 'pronunciation', 'tts', 'image'] as const;

/** Stand-in for the app's real authentication: the user id arrives in a header. */
const userId = (req: Request) => req.get('x-user-id') || undefined;

/**
 * The app's HTTP surface: `/api/<policy>` routes each limited by their policy (and the call
 * records the activity in the same RPC), everything else limited by `general`.
 */
export function createApp(client: FloodgateClient, log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a local reverse proxy, X-Forwarded-For carries the client IP.
  app.set('trust proxy', 'loopback');
  app.use(express.json());

  for (const policy of ROUTE_POLICIES) {
    app.use(`/api/${policy}`, rateLimit({ client, policy, userId, recordActivity: `${policy}_request` }), (req, res) => {
      res.json({ policy, user: userId(req) ?? null, result: `${policy} done` });
    });
  }

  app.use(rateLimit({ client, policy: 'general', userId, recordActivity: 'general_request' }));

  // What the backend served at this path, now answered from Floodgate's shared state.
  app.get('/api/rate-limits/status', async (req, res) => {
    const { policies, degraded, suspended } = await client.getLimitStatus({ userId: userId(req) ?? '', ip: req.ip ?? '' });
    res.json({
      degraded,
      suspended,
      policies: policies.map((p) => ({
        policy: p.policy?.name,
        limit: p.policy?.limit,
        windowMs: p.policy?.windowMs,
        statuses: p.statuses.map((s) => ({ ...s, scope: scopeName(s.scope) })),
      })),
    });
  });

  app.get('/api/hello', (req, res) => {
    res.json({ hello: userId(req) ?? 'anonymous' });
  });

  app.use((req, res) => {
    const err = FloodgateError.notFound(`no route for ${req.method} ${req.path}`);
    res.status(err.httpStatus).json(err.toBody(randomUUID()));
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const requestId = randomUUID();
    // FloodgateErrors (e.g. Floodgate unreachable for the status route) keep their code; a body
    // the JSON parser refused is the caller's fault; anything else is a bug here, logged and
    // not shown to the caller.
    const e =
      err instanceof FloodgateError
        ? err
        : isBodyError(err)
          ? FloodgateError.invalid('body', err.message)
          : new FloodgateError(status.INTERNAL, 'internal error');
    if (e.httpStatus >= 500) log.error({ err, requestId, path: req.path }, 'request failed');
    res.status(e.httpStatus).json(e.toBody(requestId));
  };
  app.use(onError);
  return app;
}

/** express.json() rejects unparsable or oversized bodies with a 4xx http-error. */
function isBodyError(err: unknown): err is Error & { status: number } {
  const code = (err as { status?: unknown }).status;
  return err instanceof Error && typeof code === 'number' && code >= 400 && code < 500;
}
