import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectNoServerError, expectStandardErrorBody, headerValue } from '../support/hostile.js';
import { healthStatus } from '../support/probes.js';
import { ROOT, ServerProcess, type Program } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

// The HTTP routes in the repo: the example app's, each going through the SDK middleware to a real Floodgate.
const EXAMPLE_APP: Program = { main: `${ROOT}examples/app/dist/main.js`, ready: 'example app listening' };

const path = fc.oneof(
  fc.constantFrom('/api/ai', '/api/tts/speak', '/api/image', '/api/pronunciation', '/api/hello', '/api/rate-limits/status', '/'),
  fc.constantFrom('/%', '/api/%zz', '/api/ai/%E0%A4%A', '/api/..%2f..%2f', `/${'a'.repeat(5_000)}`),
  fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }), { maxLength: 4 }).map((segs) => `/api/${segs.map(encodeURIComponent).join('/')}`),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => ({ type: 'application/json', text: j })),
  fc.constantFrom('{bad', '[[[[', '"\u0000"', '{"a":1e999999}').map((text) => ({ type: 'application/json', text })),
  fc.string({ unit: 'binary', maxLength: 100 }).map((text) => ({ type: 'text/plain', text })),
  fc.integer({ min: 100_001, max: 300_000 }).map((n) => ({ type: 'application/json', text: `"${'x'.repeat(n)}"` })),
);

describe('hostile input at every HTTP route of the example app', () => {
  let floodgate: ServerProcess;
  let app: ServerProcess;
  let base: string;
  beforeAll(async () => {
    floodgate = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: uniquePrefix() });
    app = await ServerProcess.start({ FLOODGATE_ADDRESS: floodgate.address, PORT: '0', FLOODGATE_DEADLINE_MS: '5000' }, 15_000, EXAMPLE_APP);
    base = `http://127.0.0.1:${app.grpcPort}`;
  });
  afterAll(async () => {
    await app?.stop();
    await floodgate?.stop();
  });

  it('never answers 5xx, and every error is the standard JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        path,
        fc.option(headerValue),
        fc.option(headerValue),
        body,
        async (method, p, user, forwarded, b) => {
          const headers: Record<string, string> = {};
          if (user !== null) headers['x-user-id'] = user;
          if (forwarded !== null) headers['x-forwarded-for'] = forwarded;
          if (b && method !== 'GET') headers['content-type'] = b.type;
          const res = await fetch(`${base}${p}`, { method, headers, ...(b && method !== 'GET' ? { body: b.text } : {}) });
          const text = await res.text();
          const what = `${method} ${p.slice(0, 80)}`;
          expectNoServerError(res, text, what);
          if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) expectStandardErrorBody(text, what);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves both processes alive and Floodgate healthy', async () => {
    expect(app.proc.exitCode).toBeNull();
    expect(floodgate.proc.exitCode).toBeNull();
    expect(await healthStatus(floodgate.address)).toBe('SERVING');
    expect(app.logs.filter((l) => /request failed/.test(l))).toEqual([]);
  });
});
