/**
 * JSON Schemas of the gateway's inputs (validated by fastify, so a wrong type or an unknown
 * field is a 400 naming it) and of its outputs (documentation in the OpenAPI document).
 */
import { MAX_REASON_BYTES, MAX_SUSPENSION_DAYS } from '../admin/suspension-rules.js';

type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string): Schema => ({ type: 'integer', description });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length ? { required } : {}),
});

// ---- inputs ----

export const userIdParams = object({ userId: str('User id: 1..256 bytes of UTF-8, no control characters') }, ['userId']);

export const statusQuery = object({
  userId: str('User id (at least one of userId and ip)'),
  ip: str('IPv4 or IPv6 address (at least one of userId and ip)'),
});

export const overviewQuery = object({
  pageSize: str('Users per page, 1..500 (default 50)', { pattern: '^[0-9]{1,3}$' }),
  pageToken: str('Cursor from a previous page'),
  suspendedOnly: str('Only suspended users', { enum: ['true', 'false'] }),
});

/** A duration: digits then a unit (ms, s, m, h, d). */
export const DURATION = '^([0-9]{1,9})(ms|s|m|h|d)$';

export const suspendBody = object(
  {
    suspended: bool('true suspends the user, false lifts the suspension'),
    reason: str(`Why; required when suspending (at most ${MAX_REASON_BYTES} bytes of UTF-8)`),
    duration: str(`How long the suspension lasts, e.g. "90s", "30m", "12h", "7d" or "500ms", at most ${MAX_SUSPENSION_DAYS}d; omitted means until lifted`, {
      pattern: DURATION,
    }),
  },
  ['suspended'],
);

export const resetRateLimitsBody = object({
  policy: str('Reset only this policy; omitted resets every policy'),
  ip: str("Also reset this IP's keys"),
});

/** A query or body that must hold nothing. */
export const noFields = object({});

// ---- outputs (documentation) ----

const scope = str('Key the limit applies to', { enum: ['user', 'ip'] });

const limitStatus = object({
  scope,
  limit: int('Requests allowed per window'),
  remaining: int('Requests left now'),
  windowMs: int('Window length in ms'),
  resetAfterMs: int('Until the full quota is back, ms'),
  retryAfterMs: int('On deny: until a request would pass, ms'),
  allowed: bool('Whether a request of cost 1 would pass now'),
});

const policyStatus = object({
  policy: object({
    name: str('Policy name'),
    limit: int('Per-user limit'),
    windowMs: int('Window length in ms'),
    algorithm: str('sliding_log, sliding_window, token_bucket or fixed_window'),
    scopes: arrayOf(scope),
    ipLimit: int('Per-IP limit'),
    burst: int('Bucket size of the user key (token_bucket)'),
    shadow: bool('Shadow mode: over-limit requests are reported, not denied'),
    failureMode: str('local, open or closed'),
    description: str('What the policy is for'),
    ipBurst: int('Bucket size of the IP key (token_bucket)'),
  }),
  statuses: arrayOf(limitStatus),
});

export const limitStatusResponse = object({
  degraded: bool('Answered from the failure mode, not the store'),
  suspended: bool('The user is suspended: every check is denied whatever the statuses, which then show nothing left'),
  policies: arrayOf(policyStatus),
});

const userSummary = object({
  userId: str('User id'),
  firstSeenMs: int('First activity, Unix ms'),
  lastSeenMs: int('Last activity, Unix ms'),
  totalRequests: int('Activities recorded'),
  sessionCount: int('Sessions started'),
  suspended: bool('Currently suspended'),
});

export const overviewResponse = object({
  users: arrayOf(userSummary),
  nextPageToken: str('Cursor of the next page; empty on the last'),
  total: int('Users tracked'),
});

const activityCount = object({ activity: str('Activity name'), count: int('Times recorded') });

const suspension = object({
  suspended: bool('Whether the user is suspended'),
  reason: str('Why'),
  sinceMs: int('Since, Unix ms'),
  expiresAtMs: int('Expiry, Unix ms; 0 means until lifted'),
});

export const detailedResponse = object({
  found: bool('Always true (unknown users are a 404)'),
  stats: object({
    userId: str('User id'),
    firstSeenMs: int('First activity, Unix ms'),
    lastSeenMs: int('Last activity, Unix ms'),
    totalRequests: int('Activities recorded'),
    daily: arrayOf(object({ date: str('UTC day, YYYY-MM-DD'), total: int('Activities that day'), activities: arrayOf(activityCount) })),
    sessionCount: int('Sessions started'),
    currentSessionId: str('Current session'),
    peakMinute: object({ minuteStartMs: int('Start of the busiest minute, Unix ms'), requests: int('Activities in it') }),
    suspension,
    lastIp: str('Last IP seen'),
    activities: arrayOf(activityCount),
  }),
  limits: arrayOf(policyStatus),
});

const peak = object({ periodStartMs: int('Hour or day start, Unix ms'), users: int('Concurrent users'), atMs: int('When, Unix ms') });

export const statisticsResponse = object({
  usersTracked: int('Users tracked'),
  activeLastHour: int('Users active in the last hour'),
  activeLastDay: int('Users active in the last 24 h'),
  activeLast7Days: int('Users active in the last 7 days'),
  dailyActiveUsers: arrayOf(object({ date: str('UTC day'), count: int('Active users') })),
  requestsPerActivity: arrayOf(object({ date: str('UTC day'), activities: arrayOf(activityCount) })),
  suspendedUsers: int('Users suspended'),
  topUsers: arrayOf(userSummary),
  hourlyPeaks: arrayOf(peak),
  dailyPeaks: arrayOf(peak),
});

export const suspendResponse = object({ suspension });

export const storeStatusResponse = object({
  mode: str('memory, single, sentinel or cluster'),
  connected: bool('The store answers'),
  degraded: bool('Policies run in their failure mode'),
  latencyMs: { type: 'number', description: 'Round trip of a PING, ms' },
  usedMemoryBytes: int('Redis used_memory'),
  keys: int('Keys in the store'),
  trackingBufferSize: int('Tracking writes waiting for the store'),
  trackingBufferDropped: int('Tracking writes dropped since start'),
  version: str('Redis version'),
});

export const keysDeletedResponse = object({ keysDeleted: int('Keys removed') });

export const healthResponse = object({ status: str('ok, or the backend serving status') });

export const errorBody = object(
  {
    error: object(
      {
        code: str('gRPC status code name, e.g. INVALID_ARGUMENT'),
        message: str('What went wrong; starts with the field at fault'),
        requestId: str('Also in the x-request-id header and the logs'),
      },
      ['code', 'message', 'requestId'],
    ),
  },
  ['error'],
);
