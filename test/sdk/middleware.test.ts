import type { AddressInfo } from 'node:net';
import { createClient, type ClientOptions, type FloodgateClient } from '@floodgate/client';
import { decisionOf as expressDecision, rateLimit as expressRateLimit, type RateLimitOptions } from '@floodgate/client/express';
import { decisionOf as fastifyDecision, rateLimit as fastifyRateLimit } from '@floodgate/client/fastify';
import express from 'express';
import Fastify from 'fastify';
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
      userId: (req) => (limits.byIp ? undefined : req.get('x-user-id')),
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
      userId: (req) => (limits.byIp ? undefined : header(req.headers, 'x-user-id')),
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

  it('answers 403 with the standard body for a suspended user, and no Retry-After', async () => {
    const suspended = `${name}-suspended`;
    await stack.client.admin.setSuspension({ userId: suspended, suspended: true, reason: 'abuse', durationMs: 60_000 });
    const app = await serve({ client: stack.client, policy: 'burst' });
    try {
      const res = await get(app.url, { 'x-user-id': suspended, 'x-client-ip': ip });
      expect(res.status).toBe(403);
      expect(res.headers.get('retry-after')).toBeNull();
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

describe('middleware options', () => {
  it.each([
    [{ policy: '' }, 'policy'],
    [{ policy: 'ai', userId: 'alice' as never }, 'userId'],
  ])('rejects %j at creation naming %s', (bad, field) => {
    const opts = { client: stack.client, policy: 'ai', userId: () => 'u', ...bad };
    expect(() => expressRateLimit(opts)).toThrow(new RegExp(`^${field}:`));
    expect(() => fastifyRateLimit(opts)).toThrow(new RegExp(`^${field}:`));
  });
});
