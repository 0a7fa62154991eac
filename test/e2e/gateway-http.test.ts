import { createClient, type FloodgateClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { expectError, http, type HttpOptions } from '../support/http.js';
import { ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const TOKEN = 'gateway-test-token-1';
const OTHER_TOKEN = 'gateway-test-token-2';

/** Every protected route with a request that is valid in every respect. */
const PROTECTED: Array<[string, string, HttpOptions]> = [
  ['GET', '/api/rate-limits/status?userId=alice', {}],
  ['GET', '/api/admin/users/overview', {}],
  ['GET', '/api/admin/users/alice/detailed', {}],
  ['GET', '/api/admin/users/statistics', {}],
  ['POST', '/api/admin/users/alice/suspend', { body: { suspended: true, reason: 'abuse', duration: '30m' } }],
  ['GET', '/api/admin/services/redis-status', {}],
  ['POST', '/api/admin/users/alice/reset-tracking', {}],
  ['POST', '/api/admin/users/alice/reset-rate-limits', { body: { policy: 'ai' } }],
];

describe('admin HTTP gateway in the server process, on real Redis', () => {
  let server: ServerProcess;
  let client: FloodgateClient;
  const call = (path: string, opts: HttpOptions = {}) => http(`${server.httpUrl}${path}`, { token: TOKEN, ...opts });

  beforeAll(async () => {
    server = await ServerProcess.start({
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: uniquePrefix(),
      ADMIN_TOKENS: `${TOKEN}, ${OTHER_TOKEN}`,
    });
    client = createClient({ address: server.address, deadlineMs: 5_000 });
    // The user the valid requests above name.
    await client.recordActivity({ userId: 'alice', activity: 'login' });
  });
  afterAll(async () => {
    client?.close();
    expect(await server?.stop()).toBe(0);
  });

  it('serves /healthz and /readyz without a token, with a request id header on each', async () => {
    const live = await http(`${server.httpUrl}/healthz`);
    expect(live.status).toBe(200);
    expect(live.json).toEqual({ status: 'ok' });
    expect(live.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
    const ready = await http(`${server.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'SERVING' });
    expect(ready.headers.get('x-request-id')).not.toBe(live.headers.get('x-request-id'));
    for (const probe of ['/healthz', '/readyz']) expect((await fetch(`${server.httpUrl}${probe}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('reports usage on GET /api/rate-limits/status after checks over gRPC', async () => {
    for (let i = 0; i < 3; i++) await client.checkLimit({ policy: 'ai', userId: 'status-user', ip: '198.51.100.7' });
    const res = await call('/api/rate-limits/status?userId=status-user&ip=198.51.100.7');
    expect(res.status).toBe(200);
    expect(res.json.degraded).toBe(false);
    const ai = res.json.policies.find((p: any) => p.policy.name === 'ai');
    expect(ai.policy).toMatchObject({ limit: 20, windowMs: 60_000, scopes: ['user', 'ip'] });
    expect(ai.statuses).toEqual([
      expect.objectContaining({ scope: 'user', limit: 20, remaining: 17, allowed: true }),
      expect.objectContaining({ scope: 'ip', limit: 20, remaining: 17, allowed: true }),
    ]);
    const general = res.json.policies.find((p: any) => p.policy.name === 'general');
    expect(general.statuses[0]).toMatchObject({ scope: 'user', remaining: 100 });
  });

  it('echoes a sane x-request-id and logs the request under it', async () => {
    const res = await call('/api/rate-limits/status?ip=1.2.3', { headers: { 'x-request-id': 'trace-abc.123' } });
    expectError(res, 400, 'INVALID_ARGUMENT', 'ip');
    expect(res.json.error.requestId).toBe('trace-abc.123');
    const failedLine = (l: string) => l.includes('"requestId":"trace-abc.123"') && l.includes('request failed');
    await eventually('the failed request is logged under its id', () => server.logs.some(failedLine));
    const logged = server.logs.find(failedLine)!;
    expect(JSON.parse(logged)).toMatchObject({ requestId: 'trace-abc.123', code: 'INVALID_ARGUMENT' });
    const odd = await call('/healthz', { headers: { 'x-request-id': 'not ok {}' } });
    expect(odd.headers.get('x-request-id')).not.toBe('not ok {}');
  });

  describe.each(PROTECTED)('%s %s', (method, path, opts) => {
    it('answers 401 with the standard body without a token, with a wrong token and with another scheme', async () => {
      expectError(await call(path, { ...opts, method, token: undefined }), 401, 'UNAUTHENTICATED', 'authorization');
      expectError(await call(path, { ...opts, method, token: `${TOKEN}x` }), 401, 'UNAUTHENTICATED', 'authorization');
      expectError(await call(path, { ...opts, method, token: undefined, headers: { authorization: `Basic ${TOKEN}` } }), 401, 'UNAUTHENTICATED');
    });

    it('rejects an unknown query parameter with a 400 naming it', async () => {
      const sep = path.includes('?') ? '&' : '?';
      expectError(await call(`${path}${sep}bogus=1`, { ...opts, method }), 400, 'INVALID_ARGUMENT', 'bogus');
    });

    it('answers 200 with every configured token', async () => {
      const res = await call(path, { ...opts, method, token: OTHER_TOKEN });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    });
  });

  it('runs the admin routes against the real AdminService: overview, detail, statistics, suspend, resets, store status', async () => {
    const user = 'carol';
    for (const activity of ['login', 'ai', 'ai']) await client.recordActivity({ userId: user, activity, ip: '203.0.113.5' });
    await client.checkLimit({ policy: 'ai', userId: user });
    await client.checkLimit({ policy: 'ai', userId: user });

    const overview = await call('/api/admin/users/overview?pageSize=500');
    expect(overview.status).toBe(200);
    expect(overview.json.users).toContainEqual(expect.objectContaining({ userId: user, totalRequests: 3, suspended: false }));
    expect(overview.json.total).toBeGreaterThanOrEqual(1);

    const detail = await call(`/api/admin/users/${user}/detailed`);
    expect(detail.status).toBe(200);
    expect(detail.json.found).toBe(true);
    expect(detail.json.stats).toMatchObject({ userId: user, totalRequests: 3, lastIp: '203.0.113.5' });
    const aiLimits = detail.json.limits.find((p: any) => p.policy.name === 'ai');
    expect(aiLimits.statuses).toEqual([expect.objectContaining({ scope: 'user', limit: 20, remaining: 18 })]);
    expectError(await call('/api/admin/users/nobody-at-all/detailed'), 404, 'NOT_FOUND', 'userId');

    const stats = await call('/api/admin/users/statistics');
    expect(stats.status).toBe(200);
    expect(stats.json.usersTracked).toBeGreaterThanOrEqual(1);
    expect(stats.json.dailyActiveUsers.length).toBeGreaterThanOrEqual(1);

    const suspended = await call(`/api/admin/users/${user}/suspend`, { body: { suspended: true, reason: 'abuse', duration: '1h' } });
    expect(suspended.status).toBe(200);
    expect(suspended.json.suspension).toMatchObject({ suspended: true, reason: 'abuse' });
    expect(suspended.json.suspension.expiresAtMs - suspended.json.suspension.sinceMs).toBe(3_600_000);
    expect(await client.checkLimit({ policy: 'ai', userId: user })).toMatchObject({ allowed: false });
    const onlySuspended = await call('/api/admin/users/overview?suspendedOnly=true');
    expect(onlySuspended.json.users.map((u: any) => u.userId)).toContain(user);
    expect(onlySuspended.json.users.every((u: any) => u.suspended)).toBe(true);

    const lifted = await call(`/api/admin/users/${user}/suspend`, { body: { suspended: false } });
    expect(lifted.status).toBe(200);
    expect(lifted.json.suspension.suspended).toBe(false);
    expect(await client.checkLimit({ policy: 'ai', userId: user })).toMatchObject({ allowed: true });

    const reset = await call(`/api/admin/users/${user}/reset-rate-limits`, { body: { policy: 'ai' } });
    expect(reset.status).toBe(200);
    expect(reset.json.keysDeleted).toBeGreaterThanOrEqual(1);
    const status = await call(`/api/rate-limits/status?userId=${user}`);
    expect(status.json.policies.find((p: any) => p.policy.name === 'ai').statuses[0].remaining).toBe(20);
    expectError(await call(`/api/admin/users/${user}/reset-rate-limits`, { body: { policy: 'no-such-policy' } }), 404, 'NOT_FOUND', 'policy');

    const resetAll = await call(`/api/admin/users/${user}/reset-rate-limits`, { method: 'POST' });
    expect(resetAll.status).toBe(200);

    const wiped = await call(`/api/admin/users/${user}/reset-tracking`, { method: 'POST' });
    expect(wiped.status).toBe(200);
    expect(wiped.json.keysDeleted).toBeGreaterThanOrEqual(1);
    expectError(await call(`/api/admin/users/${user}/detailed`), 404, 'NOT_FOUND', 'userId');

    const store = await call('/api/admin/services/redis-status');
    expect(store.status).toBe(200);
    expect(store.json).toMatchObject({ mode: 'single', connected: true, degraded: false });
    expect(store.json.version).toMatch(/^\d+\./);
  });

  it.each([
    ['no subject', '/api/rate-limits/status', 'userId'],
    ['a bad IP', '/api/rate-limits/status?ip=300.1.1.1', 'ip'],
    ['a repeated userId', '/api/rate-limits/status?userId=a&userId=b', 'userId'],
    ['a user id over 256 bytes', `/api/rate-limits/status?userId=${'é'.repeat(129)}`, 'userId'],
    ['a control character in the user id', '/api/rate-limits/status?userId=a%01b', 'userId'],
    ['pageSize 0', '/api/admin/users/overview?pageSize=0', 'pageSize'],
    ['pageSize 501', '/api/admin/users/overview?pageSize=501', 'pageSize'],
    ['a non-numeric pageSize', '/api/admin/users/overview?pageSize=ten', 'pageSize'],
    ['suspendedOnly not a boolean', '/api/admin/users/overview?suspendedOnly=yes', 'suspendedOnly'],
    ['a path user id over 256 bytes', `/api/admin/users/${'a'.repeat(257)}/detailed`, 'userId'],
    ['a control character in the path user id', '/api/admin/users/a%00b/detailed', 'userId'],
  ])('GET with %s is a 400 naming the field', async (_what, path, field) => {
    expectError(await call(path), 400, 'INVALID_ARGUMENT', field);
  });

  it.each([
    ['malformed JSON', '{"suspended": tru', 'body'],
    ['a body that is not an object', '[true]', 'body'],
    ['suspended of the wrong type', { suspended: 'yes', reason: 'x' }, 'suspended'],
    ['reason of the wrong type', { suspended: true, reason: 42 }, 'reason'],
    ['a reason over 512 bytes of UTF-8 (257 characters)', { suspended: true, reason: 'é'.repeat(257) }, 'reason'],
    ['an unknown field', { suspended: true, reason: 'x', until: 'tomorrow' }, 'until'],
    ['no suspended', { reason: 'x' }, 'suspended'],
    ['suspending without a reason', { suspended: true }, 'reason'],
    ['a duration without a unit', { suspended: true, reason: 'x', duration: '30' }, 'duration'],
    ['a duration of zero', { suspended: true, reason: 'x', duration: '0s' }, 'duration'],
    ['a duration over ten years', { suspended: true, reason: 'x', duration: '3651d' }, 'duration'],
    ['a duration when lifting', { suspended: false, duration: '1h' }, 'duration'],
    ['a reason when lifting', { suspended: false, reason: 'sorry' }, 'reason'],
  ])('POST suspend with %s is a 400 naming the field', async (_what, body, field) => {
    expectError(await call('/api/admin/users/alice/suspend', { body }), 400, 'INVALID_ARGUMENT', field);
  });

  it('rejects a missing suspend body, bad reset bodies and an unknown field on reset-tracking', async () => {
    expectError(await call('/api/admin/users/alice/suspend', { method: 'POST' }), 400, 'INVALID_ARGUMENT', 'suspended');
    expectError(await call('/api/admin/users/alice/reset-rate-limits', { body: { ip: 'nope' } }), 400, 'INVALID_ARGUMENT', 'ip');
    expectError(await call('/api/admin/users/alice/reset-rate-limits', { body: { policy: 7 } }), 400, 'INVALID_ARGUMENT', 'policy');
    expectError(await call('/api/admin/users/alice/reset-tracking', { body: { all: true } }), 400, 'INVALID_ARGUMENT', 'all');
  });

  it('answers 413 for a body over the size limit and 415 for a body that is not JSON', async () => {
    const big = { suspended: true, reason: 'x'.repeat(20_000) };
    expectError(await call('/api/admin/users/alice/suspend', { body: big }), 413, 'RESOURCE_EXHAUSTED', 'body');
    const text = await call('/api/admin/users/alice/suspend', { body: 'suspend', headers: { 'content-type': 'text/plain' } });
    expectError(text, 415, 'INVALID_ARGUMENT', 'content-type');
  });

  it('answers 404 with the standard body for unknown routes and methods', async () => {
    expectError(await call('/api/admin/nothing-here'), 404, 'NOT_FOUND');
    expectError(await http(`${server.httpUrl}/`), 404, 'NOT_FOUND');
    expectError(await call('/api/admin/users/overview', { method: 'DELETE' }), 404, 'NOT_FOUND');
  });

  it('serves an OpenAPI document of every route', async () => {
    const res = await http(`${server.httpUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toMatch(/^3\./);
    const paths = res.json.paths;
    for (const [method, path] of PROTECTED) {
      const templated = path.split('?')[0]!.replace('/alice/', '/{userId}/');
      const op = paths[templated]?.[method.toLowerCase()];
      expect(op, `${method} ${templated}`).toBeDefined();
      expect(op.security).toEqual([{ bearer: [] }]);
      expect(op.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
    for (const probe of ['/healthz', '/readyz', '/metrics']) expect(paths[probe].get).toBeDefined();
    const suspend = paths['/api/admin/users/{userId}/suspend'].post;
    expect(suspend.requestBody.content['application/json'].schema.properties.duration.pattern).toBeDefined();
    expect(suspend.parameters).toEqual([expect.objectContaining({ name: 'userId', in: 'path', required: true })]);
    expect(res.json.components.schemas.Error.required).toEqual(['error']);
  });

  it('exports decisions, RPC latency, Redis latency and the outage gauges on /metrics', async () => {
    await client.recordActivity({ userId: 'metrics-user', activity: 'login' });
    expect((await call('/api/admin/users/metrics-user/detailed')).status).toBe(200);
    expect((await call('/api/admin/services/redis-status')).status).toBe(200);
    expect((await http(`${server.httpUrl}/readyz`)).status).toBe(200);
    await client.checkLimit({ policy: 'image', userId: 'metrics-user' });
    await expect(client.checkLimit({ policy: 'image', userId: 'metrics-user', cost: 16 })).rejects.toThrow(/cost/);
    for (let i = 0; i < 15; i++) await client.checkLimit({ policy: 'image', userId: 'metrics-user-2' });
    await client.checkLimit({ policy: 'image', userId: 'metrics-user-2' });

    const res = await http(`${server.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.text;
    expect(m).toContain('floodgate_decisions_total{policy="image",result="ok",allowed="true"} 16');
    expect(m).toContain('floodgate_decisions_total{policy="image",result="over_limit",allowed="false"} 1');
    // The SDK's checks go over CheckLimitStream, timed one by one under its name.
    expect(m).toMatch(/floodgate_rpc_duration_seconds_count\{method="floodgate\.v1\.RateLimitService\/CheckLimitStream",code="OK"\} \d+\n/);
    expect(m).toMatch(/floodgate_rpc_duration_seconds_count\{method="floodgate\.v1\.RateLimitService\/CheckLimitStream",code="INVALID_ARGUMENT"\} 1\n/);
    // Every command on the shared client: rate-limit and tracking scripts by name, plain commands.
    for (const command of ['fg_sliding_log', 'fg_track_user', 'hgetall', 'ping']) {
      expect(m).toMatch(new RegExp(`floodgate_redis_command_duration_seconds_count\\{command="${command}"\\} [1-9]`));
    }
    expect(m).not.toContain('command="evalsha"');
    expect(m).toMatch(/floodgate_http_request_duration_seconds_count\{method="GET",route="\/readyz",status="200"\} \d+/);
    expect(m).toContain('floodgate_degraded 0');
    expect(m).toContain('floodgate_tracking_buffer_size 0');
    expect(m).toContain('floodgate_tracking_buffer_dropped_total 0');
    expect(m).toContain('floodgate_policy_reloads_total{result="failure"} 0');
    expect(m).toMatch(/floodgate_process_cpu_seconds_total \d/);
  });
});
