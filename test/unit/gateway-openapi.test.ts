import {
  GetLimitStatusResponse,
  GetStatisticsResponse,
  GetStoreStatusResponse,
  GetUserDetailResponse,
  ListUsersResponse,
  ResetRateLimitsResponse,
  ResetTrackingResponse,
  SetSuspensionResponse,
} from '@floodgate/client';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../server/src/gateway/openapi.js';
import { API_ROUTES } from '../../server/src/gateway/routes.js';

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema };

/** Field paths of a schema ("policies[].policy.name"), as far as objects and arrays go. */
function schemaPaths(s: Schema, at = ''): string[] {
  if (s.type === 'array' && s.items) return schemaPaths(s.items, `${at}[]`);
  if (s.type !== 'object' || !s.properties) return [at];
  return Object.entries(s.properties).flatMap(([k, v]) => schemaPaths(v, at ? `${at}.${k}` : k));
}

/** The same paths of a generated message, filled with one element per list and every submessage. */
function messagePaths(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return messagePaths(v[0], `${at}[]`);
  if (v === null || typeof v !== 'object') return [at];
  return Object.entries(v).flatMap(([k, x]) => messagePaths(x, at ? `${at}.${k}` : k));
}

const full = {
  status: GetLimitStatusResponse.fromJSON({ policies: [{ policy: { scopes: ['SCOPE_USER'] }, statuses: [{}] }] }),
  overview: ListUsersResponse.fromJSON({ users: [{}] }),
  detail: GetUserDetailResponse.fromJSON({
    stats: { daily: [{ activities: [{}] }], peakMinute: {}, suspension: {}, activities: [{}] },
    limits: [{ policy: { scopes: ['SCOPE_USER'] }, statuses: [{}] }],
  }),
  statistics: GetStatisticsResponse.fromJSON({
    dailyActiveUsers: [{}],
    requestsPerActivity: [{ activities: [{}] }],
    topUsers: [{}],
    hourlyPeaks: [{}],
    dailyPeaks: [{}],
  }),
  suspend: SetSuspensionResponse.fromJSON({ suspension: {} }),
  store: GetStoreStatusResponse.fromJSON({}),
  resetTracking: ResetTrackingResponse.fromJSON({}),
  resetRateLimits: ResetRateLimitsResponse.fromJSON({}),
};

const MESSAGE_OF: Record<string, unknown> = {
  'GET /api/rate-limits/status': full.status,
  'GET /api/admin/users/overview': full.overview,
  'GET /api/admin/users/:userId/detailed': full.detail,
  'GET /api/admin/users/statistics': full.statistics,
  'POST /api/admin/users/:userId/suspend': full.suspend,
  'GET /api/admin/services/redis-status': full.store,
  'POST /api/admin/users/:userId/reset-tracking': full.resetTracking,
  'POST /api/admin/users/:userId/reset-rate-limits': full.resetRateLimits,
};

describe('the OpenAPI document', () => {
  it.each(API_ROUTES.map((r) => [`${r.method} ${r.url}`, r] as const))('documents every field %s answers', (key, route) => {
    expect(MESSAGE_OF[key]).toBeDefined();
    expect(schemaPaths(route.response as Schema).sort()).toEqual(messagePaths(MESSAGE_OF[key]).sort());
  });

  it('has an operation for every route, with the Error schema on every error response', () => {
    const doc = openApiDocument('test') as { paths: Record<string, Record<string, { responses: Record<string, any> }>> };
    for (const r of API_ROUTES) {
      const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, r.url).toBeDefined();
      for (const [code, res] of Object.entries(op!.responses)) {
        if (code !== '200') expect(res.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      }
      // Every status the gateway can answer the route with is listed: 415 and 413 for a body.
      expect(Object.keys(op!.responses), r.url).toEqual(expect.arrayContaining(['400', '401', '429', '503', ...(r.body ? ['413', '415'] : [])]));
    }
  });
});
