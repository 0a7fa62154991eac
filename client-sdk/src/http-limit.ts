import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { createClient, type ClientOptions, type FloodgateClient } from './client.js';
import type { Decision } from './decision.js';
import { FloodgateError, type ErrorBody } from './errors.js';
import { Reason } from './gen/floodgate/v1/ratelimit.js';
import { rateLimitHeaders } from './headers.js';
import { checkKnownKeys, checkObject } from './validation.js';

/** Options of the Express and Fastify `rateLimit` middleware; `Req` is the framework's request. */
export interface RateLimitOptions<Req> {
  /** A client to share, or options to create one for this middleware. */
  client: FloodgateClient | ClientOptions;
  /** Policy name, or a function of the request. */
  policy: string | ((req: Req) => string);
  /** The user to limit; left out, or undefined for a request (anonymous), limits by IP alone. */
  userId?: (req: Req) => string | undefined;
  /** The client IP; default the framework's `req.ip` (mind its trust-proxy setting). */
  ip?: (req: Req) => string | undefined;
  /** Capacity this request spends; default 1. */
  cost?: (req: Req) => number | undefined;
  /** Activity to record in the same call (e.g. "ai_request"); only for requests with a user. */
  recordActivity?: string | ((req: Req) => string | undefined);
  /** Request id for error bodies; default a valid `X-Request-Id` header, else a fresh UUID. */
  requestId?: (req: Req) => string;
}

/** What the framework adapter must do with a request. */
export interface HttpOutcome {
  /** Undefined when Floodgate rejected the request itself (e.g. a user id it finds invalid). */
  decision: Decision | undefined;
  /** Set on every response, allowed or not. */
  headers: Record<string, string>;
  /** Present when the request is refused. */
  refusal?: { status: number; body: ErrorBody };
}

/** How a framework exposes what the core needs from its request. */
export interface RequestAccess<Req> {
  ip(req: Req): string | undefined;
  header(req: Req, name: string): string | undefined;
}

const OPTIONS: readonly (keyof RateLimitOptions<object>)[] = ['client', 'policy', 'userId', 'ip', 'cost', 'recordActivity', 'requestId'];

const decisions = new WeakMap<object, Decision>();

/** The decision the middleware made for this request, for handlers that want the numbers. */
export function decisionOf(req: object): Decision | undefined {
  return decisions.get(req);
}

/** Framework-neutral core: decides a request and says what to send. */
export function httpRateLimiter<Req extends object>(
  options: RateLimitOptions<Req>,
  access: RequestAccess<Req>,
): (req: Req) => Promise<HttpOutcome> {
  checkObject(options, 'options');
  checkKnownKeys(options, OPTIONS);
  const { policy, userId, cost, recordActivity } = options;
  if (typeof policy === 'string' ? policy === '' : typeof policy !== 'function') {
    throw FloodgateError.invalid('policy', 'must be a policy name or a function of the request');
  }
  for (const name of ['userId', 'ip', 'cost', 'requestId'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw FloodgateError.invalid(name, 'must be a function of the request');
  }
  if (recordActivity !== undefined && typeof recordActivity !== 'string' && typeof recordActivity !== 'function') {
    throw FloodgateError.invalid('recordActivity', 'must be an activity name or a function of the request');
  }
  checkObject(options.client, 'client');
  const client = 'checkLimit' in options.client ? options.client : createClient(options.client);
  const ipOf = options.ip ?? access.ip;
  const requestIdOf = options.requestId ?? ((req: Req) => validRequestId(access.header(req, 'x-request-id')) ?? randomUUID());

  return async (req) => {
    const policyName = typeof policy === 'string' ? policy : policy(req);
    try {
      const user = userId?.(req) ?? '';
      const decision = await client.checkLimit({
        policy: policyName,
        userId: user,
        ip: ipOf(req) ?? '',
        cost: cost?.(req),
        // Activity belongs to a user: anonymous requests are limited but not tracked.
        recordActivity: (user && (typeof recordActivity === 'function' ? recordActivity(req) : recordActivity)) || '',
      });
      decisions.set(req, decision);
      const headers = rateLimitHeaders(decision);
      const refused = refusal(decision);
      return refused ? { decision, headers, refusal: refuse(refused) } : { decision, headers };
    } catch (err) {
      if (err instanceof FloodgateError) return { decision: undefined, headers: {}, refusal: refuse(appsFault(err) ? misconfigured(err) : err) };
      throw err;
    }
    function refuse(e: FloodgateError) {
      return { status: e.httpStatus, body: e.toBody(requestIdOf(req)) };
    }
  };
}

/**
 * Whether an error is the app's configuration (an unknown policy, a refused token), not the end
 * user's request: the user gets a 500 and the app a warning, not a 404 naming the policy.
 */
function appsFault(e: FloodgateError): boolean {
  return MISCONFIGURED_CODES.has(e.code) || (e.code === status.INVALID_ARGUMENT && e.field === 'policy');
}

const MISCONFIGURED_CODES: ReadonlySet<status> = new Set([status.NOT_FOUND, status.UNAUTHENTICATED, status.PERMISSION_DENIED]);

function misconfigured(e: FloodgateError): FloodgateError {
  process.emitWarning(`Floodgate refused the rate-limit middleware's check: ${e.codeName}: ${e.message}`, { code: 'FLOODGATE_MISCONFIGURED' });
  return new FloodgateError(status.INTERNAL, 'rate limiting is misconfigured');
}

/** The error a denied decision answers with: 429 over limit, 403 suspended, 503 no limiter. */
function refusal(d: Decision): FloodgateError | undefined {
  if (d.allowed) return undefined;
  if (d.reason === Reason.REASON_SUSPENDED) return new FloodgateError(status.PERMISSION_DENIED, 'user is suspended');
  if (d.unavailable || d.reason === Reason.REASON_DEGRADED_DENY) {
    return new FloodgateError(status.UNAVAILABLE, 'rate limiting is unavailable; try again later');
  }
  const wait = d.retryAfterMs > 0 ? `; retry in ${Math.ceil(d.retryAfterMs / 1000)} s` : '';
  return new FloodgateError(status.RESOURCE_EXHAUSTED, `rate limit of policy "${d.policy}" exceeded${wait}`);
}

/** A caller's request id is echoed only if it is short printable ASCII. */
function validRequestId(id: string | undefined): string | undefined {
  return id && /^[\x21-\x7e]{1,128}$/.test(id) ? id : undefined;
}
