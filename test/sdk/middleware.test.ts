import type { AddressInfo } from 'node:net';
import { createClient, FloodgateError, rateLimitHeaders, Reason, type ClientOptions, type FloodgateClient } from '@floodgate/client';
import { decisionOf as expressDecision, rateLimit as expressRateLimit, type RateLimitOptions } from '@floodgate/client/express';
import { decisionOf as fastifyDecision, rateLimit as fastifyRateLimit } from '@floodgate/client/fastify';
import express from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi, type MockInstance } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { grpcStack, policy } from '../support/stack.js';

const redisUrl = inject('redisUrl');

/** Options both frameworks understand: the request accessors use only what both share. */
interface Limits {
  client: FloodgateClient | ClientOptions;
  policy: string;
  byIp?: boolean;
  recordActivity?: string;
}

interface Served {
  url: string;
  close(): Promise<void>;
}

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** An app with GET /limited behind the middleware; the handler echoes the decision it sees. */
const frameworks: Record<string, (limits: Limits) => Promise<Served>> = {
  express: async (limits) => {
    const opts: RateLimitOptions<express.Request> = {
      client: limits.client,
      policy: limits.policy,
      // Left out when limiting by IP alone, as an app that knows no users would.
      ...(limits.byIp ? {} : { userId: (req: express.Request) => req.get('x-user-id') }),
      ip: (req) => req.get('x-client-ip'),
      recordActivity: limits.recordActivity,
    };
    const app = express();
    app.get('/limited', expressRateLimit(opts), (req, res) => {
      res.json({ ok: true, remaining: expressDecision(req)?.remaining });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/limited`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  fastify: async (limits) => {
    const app = Fastify();
    const onRequest = fastifyRateLimit({
      client: limits.client,
      policy: limits.policy,
      ...(limits.byIp ? {} : { userId: (req: FastifyRequest) => header(req.headers, 'x-user-id') }),
      ip: (req) => header(req.headers, 'x-client-ip'),
      recordActivity: limits.recordActivity,
    });
    app.get('/limited', { onRequest }, async (req) => ({ ok: true, remaining: fastifyDecision(req)?.remaining }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `${url}/limited`, close: () => app.close() };
  },
};

let stack: Awaited<ReturnType<typeof grpcStack>>;
let checksAtServer: MockInstance;

beforeAll(async () => {
  stack = await grpcStack('redis', redisUrl, {
    policies: [policy({ name: 'burst', limit: 3, windowMs: 60_000 }), policy({ name: 'byip', limit: 2, scopes: ['ip'] })],
  });
  checksAtServer = vi.spyOn(stack.limiter, 'checkInto');
});
afterAll(() => stack.close());
beforeEach(() => {
  checksAtServer.mockClear();
});

async function get(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe.each(Object.keys(frameworks))('%s middleware', (name) => {
  const serve = frameworks[name]!;
  const user = `${name}-user`;
  const ip = name === 'express' ? '198.51.100.1' : '198.51.100.2';

  it('sets RateLimit headers on allowed responses and answers 429 with Retry-After and the standard body past the limit', async () => {
    const app = await serve({ client: stack.client, policy: 'burst', recordActivity: 'burst_call' });
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await get(app.url, { 'x-user-id': user, 'x-client-ip': ip });
        expect(ok.status).toBe(200);
        expect(ok.body).toEqual({ ok: true, remaining: 2 - i });
        expect(ok.headers.get('ratelimit-policy')).toBe('"burst";q=3;w=60');
        expect(ok.headers.get('ratelimit')).toMatch(new RegExp(`^"burst";r=${2 - i};t=\\d+$`));
        expect(ok.headers.get('retry-after')).toBeNull();
      }
      const denied = await get(app.url, { 'x-user-id': user, 'x-client-ip': ip, 'x-request-id': 'req-42' });
      expect(denied.status).toBe(429);
      expect(denied.headers.get('ratelimit-policy')).toBe('"burst";q=3;w=60');
      expect(denied.headers.get('ratelimit')).toMatch(/^"burst";r=0;t=\d+$/);
      expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(denied.headers.get('content-type')).toMatch(/^application\/json/);
      expect(denied.body).toEqual({
        error: { code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('"burst"'), requestId: 'req-42' },
      });
      // The activity travels with the check, in the same call, and is recorded for admitted requests.
      expect(checksAtServer).toHaveBeenCalledTimes(4);
      expect(checksAtServer).toHaveBeenCalledWith(expect.objectContaining({ policy: 'burst', userId: user, ip, recordActivity: 'burst_call' }), expect.anything());
      const { stats } = await stack.client.getUserStats({ userId: user });
      expect(stats?.totalRequests).toBe(3);
      expect(stats?.activities).toEqual([{ activity: 'burst_call', count: 3 }]);
    } finally {
      await app.close();
    }
  });

  it('limits anonymous requests by IP alone, untracked, on a client it creates from options', async () => {
    const app = await serve({ client: { address: `127.0.0.1:${stack.grpc.port}` }, policy: 'byip', byIp: true, recordActivity: 'anon_call' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await get(app.url, { 'x-client-ip': ip })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await get(app.url, { 'x-client-ip': '203.0.113.99' })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  // 'burst' counts the user's key, so the server finds the suspension with the keys' statuses;
  // 'byip' does not, so it looks the suspension up first and sends none. Both must answer alike.
  it.each(['burst', 'byip'])('answers 403 with the standard body for a suspended user on policy %s, with no RateLimit fields and no Retry-After', async (limited) => {
    const suspended = `${name}-suspended-${limited}`;
    await stack.client.admin.setSuspension({ userId: suspended, suspended: true, reason: 'abuse', durationMs: 60_000 });
    const app = await serve({ client: stack.client, policy: limited });
    try {
      const res = await get(app.url, { 'x-user-id': suspended, 'x-client-ip': ip });
      expect(res.status).toBe(403);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.headers.get('ratelimit')).toBeNull();
      expect(res.headers.get('ratelimit-policy')).toBeNull();
      expect(res.body).toEqual({ error: { code: 'PERMISSION_DENIED', message: 'user is suspended', requestId: expect.any(String) } });
    } finally {
      await app.close();
    }
  });

  it('answers 400 with the standard body naming the field when Floodgate rejects the input', async () => {
    const app = await serve({ client: stack.client, policy: 'burst' });
    try {
      const res = await get(app.url, { 'x-user-id': 'x'.repeat(300), 'x-client-ip': ip });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^user_id: /), requestId: expect.any(String) } });
      expect(String((res.body.error as { requestId: string }).requestId)).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await app.close();
    }
  });

  it("answers 500, not Floodgate's 404, for a policy the app names wrongly, and warns the app", async () => {
    const app = await serve({ client: stack.client, policy: 'no-such-policy' });
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    try {
      const res = await get(app.url, { 'x-user-id': user, 'x-client-ip': ip });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'rate limiting is misconfigured', requestId: expect.any(String) } });
      const warning = (await warned) as Error & { code?: string };
      expect(warning.code).toBe('FLOODGATE_MISCONFIGURED');
      expect(warning.message).toMatch(/NOT_FOUND: policy: no policy named "no-such-policy"/);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['allow', 200],
    ['deny', 503],
    ['throw', 503],
  ] as const)('with Floodgate unreachable and onUnavailable=%s answers %i without quota headers', async (mode, code) => {
    const client = createClient({ address: `127.0.0.1:${await freePort()}`, deadlineMs: 500, onUnavailable: mode, onUnavailableEvent: () => {} });
    const app = await serve({ client, policy: 'burst' });
    try {
      const res = await get(app.url, { 'x-user-id': user, 'x-client-ip': ip });
      expect(res.status).toBe(code);
      expect(res.headers.get('ratelimit')).toBeNull();
      if (mode !== 'allow') expect(res.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    } finally {
      await app.close();
      client.close();
    }
  });
});

describe('a suspended user', () => {
  it('gets a decision with no limit, remaining or reset, whether or not the server sent statuses', async () => {
    const user = 'decision-suspended';
    await stack.client.admin.setSuspension({ userId: user, suspended: true, reason: 'abuse', durationMs: 60_000 });
    const byUser = await stack.client.checkLimit({ policy: 'burst', userId: user, ip: '198.51.100.9' });
    const byIp = await stack.client.checkLimit({ policy: 'byip', userId: user, ip: '198.51.100.9' });
    // The server finds the suspension in the script on one path and before it on the other: it
    // sends no statuses on either, and the decisions must not differ.
    expect(byUser.statuses).toEqual([]);
    expect(byIp.statuses).toEqual([]);
    for (const d of [byUser, byIp]) {
      expect(d).toMatchObject({ allowed: false, reason: Reason.REASON_SUSPENDED, retryAfterMs: 0 });
      expect([d.binding, d.limit, d.remaining, d.windowMs, d.resetAfterMs]).toEqual([undefined, undefined, undefined, undefined, undefined]);
      expect(rateLimitHeaders(d)).toEqual({});
    }
  });
});

describe('middleware options', () => {
  it.each([
    [{ policy: '' }, 'policy'],
    [{ policy: 'ai', userId: 'alice' as never }, 'userId'],
    [{ cost: 1 as never }, 'cost'],
    [{ ip: '1.2.3.4' as never }, 'ip'],
    [{ recordActivity: 5 as never }, 'recordActivity'],
    [{ client: null as never }, 'client'],
    [{ costs: () => 1 } as never, 'costs'],
  ])('rejects %j at creation with a FloodgateError naming %s', (bad, field) => {
    const opts = { client: stack.client, policy: 'ai', userId: () => 'u', ...(bad as object) };
    for (const make of [expressRateLimit, fastifyRateLimit] as Array<(o: typeof opts) => unknown>) {
      expect(() => make(opts)).toThrow(new RegExp(`^${field}:`));
      expect(() => make(opts)).toThrow(FloodgateError);
    }
  });

  it('answers 400 naming cost when the cost function gives one that cannot be sent', async () => {
    const app = express();
    app.get('/limited', expressRateLimit({ client: stack.client, policy: 'burst', userId: () => 'cost-user', ip: () => '198.51.100.3', cost: () => -1 }), (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/limited`, {});
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^cost: must be a whole number from 1 to 4294967295/) } });
      expect(checksAtServer).not.toHaveBeenCalled();
    } finally {
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });
});
