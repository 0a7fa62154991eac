import { FloodgateError, scopeName, type CallOptions, type FloodgateClient, type PolicyStatus } from '@floodgate/client';
import { validId, validIp } from '../validation.js';
import { MAX_SUSPENSION_DAYS, MAX_SUSPENSION_MS } from '../admin/suspension-rules.js';
import * as s from './schemas.js';

/** none: open (probes); token: a valid bearer token; admin: token and the admin IP allowlist. */
export type Access = 'none' | 'token' | 'admin';

type Strings = Record<string, string | undefined>;

export interface ApiRequest {
  params: Strings;
  query: Strings;
  body: Record<string, unknown>;
}

/** One JSON route of the API: its schemas (validation and OpenAPI) and what it asks Floodgate. */
export interface ApiRoute {
  method: 'GET' | 'POST';
  url: string;
  access: Access;
  summary: string;
  params?: object;
  query?: object;
  body?: object;
  response: object;
  /** `call` carries the HTTP request's id, so the gRPC server logs the call under the same id. */
  handle(req: ApiRequest, client: FloodgateClient, call: CallOptions): Promise<unknown>;
}

const userId = (req: ApiRequest): string => validId('userId', req.params.userId ?? '');

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/api/rate-limits/status',
    access: 'token',
    summary: "Every policy's usage for a user and/or an IP, consuming nothing",
    query: s.statusQuery,
    response: s.limitStatusResponse,
    async handle({ query }, client, call) {
      const id = query.userId === undefined ? '' : validId('userId', query.userId);
      const ip = query.ip === undefined ? '' : validIp('ip', query.ip);
      if (id === '' && ip === '') throw FloodgateError.invalid('userId', 'userId or ip is required');
      const res = await client.getLimitStatus({ userId: id, ip }, call);
      return { degraded: res.degraded, suspended: res.suspended, policies: res.policies.map(policyStatusJson) };
    },
  },
  {
    method: 'GET',
    url: '/api/admin/users/overview',
    access: 'admin',
    summary: 'Tracked users, newest activity first, one page at a time',
    query: s.overviewQuery,
    response: s.overviewResponse,
    handle: ({ query }, client, call) =>
      client.admin.listUsers(
        {
          pageSize: pageSize(query.pageSize),
          pageToken: query.pageToken ?? '',
          suspendedOnly: query.suspendedOnly === 'true',
        },
        call,
      ),
  },
  {
    method: 'GET',
    url: '/api/admin/users/statistics',
    access: 'admin',
    summary: 'Activity statistics over all users',
    response: s.statisticsResponse,
    handle: (_req, client, call) => client.admin.getStatistics({}, call),
  },
  {
    method: 'GET',
    url: '/api/admin/users/:userId/detailed',
    access: 'admin',
    summary: "One user's activity, suspension and current limits (404 when nothing is known of the user)",
    params: s.userIdParams,
    response: s.detailedResponse,
    async handle(req, client, call) {
      const id = userId(req);
      const res = await client.admin.getUserDetail({ userId: id }, call);
      if (!res.found) throw FloodgateError.notFound(`userId: nothing is known of user "${id}"`, 'userId');
      return { ...res, limits: res.limits.map(policyStatusJson) };
    },
  },
  {
    method: 'POST',
    url: '/api/admin/users/:userId/suspend',
    access: 'admin',
    summary: 'Suspend a user (every check denied) or lift a suspension',
    params: s.userIdParams,
    body: s.suspendBody,
    response: s.suspendResponse,
    handle(req, client, call) {
      const suspended = req.body.suspended === true;
      const reason = (req.body.reason as string | undefined) ?? '';
      const duration = req.body.duration as string | undefined;
      if (!suspended && duration !== undefined) throw FloodgateError.invalid('duration', 'only applies when suspending');
      return client.admin.setSuspension({ userId: userId(req), suspended, reason, durationMs: durationMs(duration) }, call);
    },
  },
  {
    method: 'GET',
    url: '/api/admin/services/redis-status',
    access: 'admin',
    summary: 'Store mode, connection, latency, memory, keys, degraded state and tracking buffer',
    response: s.storeStatusResponse,
    handle: (_req, client, call) => client.admin.getStoreStatus({}, call),
  },
  {
    method: 'POST',
    url: '/api/admin/users/:userId/reset-tracking',
    access: 'admin',
    summary: "Delete a user's tracking data",
    params: s.userIdParams,
    body: s.noFields,
    response: s.keysDeletedResponse,
    handle: (req, client, call) => client.admin.resetTracking({ userId: userId(req) }, call),
  },
  {
    method: 'POST',
    url: '/api/admin/users/:userId/reset-rate-limits',
    access: 'admin',
    summary: "Reset a user's rate-limit state for one policy or all",
    params: s.userIdParams,
    body: s.resetRateLimitsBody,
    response: s.keysDeletedResponse,
    handle(req, client, call) {
      const ip = req.body.ip as string | undefined;
      return client.admin.resetRateLimits(
        {
          userId: userId(req),
          ip: ip === undefined ? '' : validIp('ip', ip),
          policy: (req.body.policy as string | undefined) ?? '',
        },
        call,
      );
    },
  },
];

function pageSize(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (n < 1 || n > 500) throw FloodgateError.invalid('pageSize', `must be between 1 and 500, got ${n}`);
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m" → 1 800 000; undefined → 0 (until lifted). The schema already checked the form. */
export function durationMs(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const m = new RegExp(s.DURATION).exec(raw)!;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms === 0) throw FloodgateError.invalid('duration', 'must be longer than 0 (omit it for no expiry)');
  if (ms > MAX_SUSPENSION_MS) throw FloodgateError.invalid('duration', `must be at most ${MAX_SUSPENSION_DAYS}d (10 years; omit it for no expiry)`);
  return ms;
}

/** Scopes as names ("user", "ip") rather than enum numbers. */
function policyStatusJson(p: PolicyStatus) {
  return {
    policy: p.policy && { ...p.policy, scopes: p.policy.scopes.map(scopeName) },
    statuses: p.statuses.map((st) => ({ ...st, scope: scopeName(st.scope) })),
  };
}
