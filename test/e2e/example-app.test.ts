import { createClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runToExit, ServerProcess, type Program } from '../support/server-process.js';

const EXAMPLE_APP: Program = { main: `${ROOT}examples/app/dist/main.js`, ready: 'example app listening' };

let floodgate: ServerProcess;
let app: ServerProcess;
let base: string;

beforeAll(async () => {
  floodgate = await ServerProcess.start();
  app = await ServerProcess.start({ FLOODGATE_ADDRESS: floodgate.address, PORT: '0', FLOODGATE_DEADLINE_MS: '5000' }, 15_000, EXAMPLE_APP);
  base = `http://127.0.0.1:${app.grpcPort}`;
});

afterAll(async () => {
  expect(await app.stop()).toBe(0);
  await floodgate.stop();
});

/** Each test its own user and client IP (via the loopback proxy's X-Forwarded-For), so no buckets are shared. */
function caller(user: string, ip: string) {
  return async (path: string, method = 'POST') => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'x-user-id': user, 'x-forwarded-for': ip } });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
}

describe('the example app against a real Floodgate', () => {
  it.each([
    ['/api/ai', 'ai', 20, 60],
    ['/api/pronunciation', 'pronunciation', 10, 60],
    ['/api/tts/speak', 'tts', 30, 60],
    ['/api/image', 'image', 15, 60],
  ])('%s is limited by %s: %i allowed, then 429s', async (path, policy, limit, windowS) => {
    const call = caller(`user-${policy}`, `198.51.100.${limit}`);
    for (let i = 0; i < limit; i++) {
      const ok = await call(path);
      expect(ok.status, `request ${i + 1}`).toBe(200);
      expect(ok.body).toMatchObject({ policy, user: `user-${policy}` });
      expect(ok.headers.get('ratelimit-policy')).toBe(`"${policy}";q=${limit};w=${windowS}`);
      expect(ok.headers.get('ratelimit')).toMatch(new RegExp(`^"${policy}";r=${limit - i - 1};t=\\d+$`));
    }
    for (let i = 0; i < 3; i++) {
      const denied = await call(path);
      expect(denied.status).toBe(429);
      expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(denied.body).toEqual({ error: { code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining(`"${policy}"`), requestId: expect.any(String) } });
    }
    // Each admitted request was recorded as the user's activity in the same call.
    const client = createClient({ address: floodgate.address, deadlineMs: 5_000 });
    try {
      const { stats } = await client.getUserStats({ userId: `user-${policy}` });
      expect(stats?.activities).toEqual([{ activity: `${policy}_request`, count: limit }]);
    } finally {
      client.close();
    }
  });

  it('limits every other route by general, and reports the usage at /api/rate-limits/status', async () => {
    const call = caller('user-general', '198.51.100.200');
    await call('/api/ai');
    const hello = await call('/api/hello', 'GET');
    expect(hello.status).toBe(200);
    expect(hello.headers.get('ratelimit-policy')).toBe('"general";q=100;w=900');
    const missing = await call('/api/no-such-route', 'GET');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('ratelimit')).toMatch(/^"general";r=98;t=\d+$/);
    expect(missing.body).toMatchObject({ error: { code: 'NOT_FOUND' } });

    const anonymous = await fetch(`${base}/api/hello`, { headers: { 'x-forwarded-for': '198.51.100.201' } });
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ hello: 'anonymous' });

    const status = await call('/api/rate-limits/status', 'GET');
    expect(status.status).toBe(200);
    type Usage = { policy: string; statuses: Array<{ scope: string; remaining: number }> };
    const byName = Object.fromEntries((status.body.policies as Usage[]).map((p) => [p.policy, p.statuses]));
    expect(byName.ai!.map((s) => [s.scope, s.remaining])).toEqual([
      ['user', 19],
      ['ip', 19],
    ]);
    expect(byName.general!.map((s) => s.remaining)).toEqual([97, 97]);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['FLOODGATE_ADDRESS', 'no port'],
    ['FLOODGATE_ADDRESS', 'localhost:99999'],
    ['FLOODGATE_ADDRESS', 'localhost:0'],
    ['FLOODGATE_DEADLINE_MS', '0'],
  ])('exits with status 2 naming %s when it is %j', async (name, value) => {
    const { code, output } = await runToExit({ FLOODGATE_ADDRESS: '127.0.0.1:1', PORT: '0', [name]: value }, 15_000, EXAMPLE_APP.main);
    expect(code).toBe(2);
    expect(output).toContain(`${name}:`);
  });
});
