import { CheckLimitResponse, createClient, FloodgateError, RateLimitServiceService, type CheckLimitRequest } from '@floodgate/client';
import { installHttp2GcFixes } from '@floodgate/client/http2';
import { Server, ServerCredentials, status, type ServiceDefinition } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, type ClientHttp2Session } from 'node:http2';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/server-process.js';

// Installed once for this test file's process, as an app would at start-up.
const fixes = installHttp2GcFixes();

describe('installHttp2GcFixes', () => {
  it('installs all three fixes on this Node and grpc-js, once', () => {
    expect(fixes.installed).toEqual({ asyncResourceBind: true, sessionTables: true, transportCallSets: true });
    expect(installHttp2GcFixes()).toBe(fixes);
  });

  describe('AsyncResource.prototype.bind, replaced', () => {
    const resource = new AsyncResource('test');

    it('keeps length and an enumerable, writable asyncResource', () => {
      const bound = resource.bind((a: number, b: number) => a + b) as ((a: number, b: number) => number) & { asyncResource: unknown };
      expect(bound(2, 3)).toBe(5);
      expect(bound.length).toBe(2);
      expect(bound.asyncResource).toBe(resource);
      expect(Object.keys(bound)).toContain('asyncResource');
      const other = new AsyncResource('other');
      bound.asyncResource = other;
      expect(bound.asyncResource).toBe(other);
    });

    it('passes the caller’s this, or thisArg when given', () => {
      const self = function (this: unknown) {
        return this;
      };
      const holder = { m: resource.bind(self) };
      expect(holder.m()).toBe(holder);
      const ctx = { ctx: true };
      expect((resource.bind as (fn: unknown, thisArg: unknown) => () => unknown)(self, ctx)()).toBe(ctx);
    });

    it('runs the function in the async context the resource was made in', () => {
      const als = new AsyncLocalStorage<string>();
      const made = als.run('request-1', () => new AsyncResource('r'));
      const bound = made.bind(() => als.getStore());
      expect(als.run('elsewhere', () => bound())).toBe('request-1');
      expect(AsyncResource.bind(() => als.getStore())()).toBeUndefined();
    });

    it('refuses a non-function with Node’s own error', () => {
      expect(() => resource.bind(42 as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    });

    it('gives bound functions asyncResource as a data property, where Node’s own gives each an accessor pair', () => {
      // Node's bound functions would make the first line differ here, so both are read in a fresh process.
      const script = `
        const { AsyncResource } = await import('node:async_hooks');
        const kind = () => ('get' in Object.getOwnPropertyDescriptor(new AsyncResource('x').bind(() => 1), 'asyncResource') ? 'accessor' : 'data');
        const node = kind();
        const { installHttp2GcFixes } = await import(${JSON.stringify(`${ROOT}client-sdk/dist/http2.js`)});
        installHttp2GcFixes();
        process.stdout.write(JSON.stringify({ node, fixed: kind() }));
      `;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual({ node: 'accessor', fixed: 'data' });
    });
  });
});

describe('an SDK client with the fixes installed', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.forceShutdown()));

  /** A real gRPC server whose CheckLimit never answers user "hang" and allows everyone else. */
  async function serve(port = 0): Promise<{ server: Server; port: number }> {
    const server = new Server();
    server.addService(RateLimitServiceService as unknown as ServiceDefinition, {
      checkLimit: (call: { request: CheckLimitRequest }, cb: (err: null, res: object) => void) => {
        if (call.request.userId !== 'hang') cb(null, CheckLimitResponse.fromPartial({ allowed: true, policy: call.request.policy }));
      },
    });
    const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    servers.push(server);
    return { server, port: bound };
  }

  it('gives its session stream tables and its transport an array-backed call set, and serves concurrent, timed-out and later calls', async () => {
    const { port } = await serve();
    const before = { ...fixes };
    const client = createClient({ address: `127.0.0.1:${port}`, deadlineMs: 2_000 });
    try {
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => client.checkLimit({ policy: 'p', userId: `u${i}` })));
      expect(many.every((d) => d.allowed && d.policy === 'p')).toBe(true);
      expect(fixes.sessions - before.sessions).toBe(1);
      expect(fixes.sessionsWithTables - before.sessionsWithTables).toBe(1);
      expect(fixes.transports - before.transports).toBe(1);
      expect(fixes.transportsWithCallSets - before.transportsWithCallSets).toBe(1);

      const hung = client.checkLimit({ policy: 'p', userId: 'hang' }, { deadlineMs: 100 });
      await expect(hung).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
      await expect(hung).rejects.toBeInstanceOf(FloodgateError);
      expect((await client.checkLimit({ policy: 'p', userId: 'after' })).allowed).toBe(true);
    } finally {
      client.close();
    }
  });

  it('fails a call in flight when the server goes away, and gives the new session and transport the same after it restarts on its port', async () => {
    const first = await serve();
    const client = createClient({ address: `127.0.0.1:${first.port}`, deadlineMs: 5_000 });
    try {
      expect((await client.checkLimit({ policy: 'p', userId: 'a' })).allowed).toBe(true);
      const before = { ...fixes };
      // A call in flight when the connection drops fails when it drops, as without the fixes
      // (Node closes the session's streams through its table), not at its deadline.
      const inFlight = client.checkLimit({ policy: 'p', userId: 'hang' }, { deadlineMs: 4_000 });
      await new Promise((r) => setTimeout(r, 50));
      first.server.forceShutdown();
      await expect(inFlight).rejects.toMatchObject({ code: status.CANCELLED });
      await serve(first.port);
      // The client reconnects on its own: a new session and a new transport.
      let answered = false;
      for (let i = 0; i < 50 && !answered; i++) {
        answered = await client.checkLimit({ policy: 'p', userId: 'b' }).then((d) => d.allowed, () => false);
        if (!answered) await new Promise((r) => setTimeout(r, 100));
      }
      expect(answered).toBe(true);
      expect(fixes.sessionsWithTables).toBeGreaterThan(before.sessionsWithTables);
      expect(fixes.transportsWithCallSets).toBeGreaterThan(before.transportsWithCallSets);
      expect(fixes.sessions - fixes.sessionsWithTables).toBe(0);
      expect(fixes.transports - fixes.transportsWithCallSets).toBe(0);
    } finally {
      client.close();
    }
  });
});

describe('a plain HTTP/2 client session with the fixes installed', () => {
  it('answers requests made before the session connected (pending streams) and closes those still open when it is destroyed', async () => {
    const server = createServer();
    server.on('stream', (stream, headers) => {
      if (headers[':path'] === '/hang') return;
      stream.respond({ ':status': 200 });
      stream.end(String(headers[':path']));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    // The CommonJS module object, as grpc-js calls it: this is the connect the fixes wrap.
    const http2 = createRequire(import.meta.url)('node:http2') as { connect(url: string): ClientHttp2Session };
    const before = fixes.sessionsWithTables;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    expect(fixes.sessionsWithTables).toBe(before + 1);
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': path });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => resolve(body));
        req.on('error', reject);
      });
    try {
      // Made at once, before the connection is up: each waits among the session's pending streams.
      const paths = Array.from({ length: 20 }, (_, i) => `/p${i}`);
      expect(await Promise.all(paths.map(get))).toEqual(paths);
      // As without the fixes: destroying the session closes its open streams (through its table).
      const hung = session.request({ ':path': '/hang' });
      const closed = new Promise((r) => hung.on('close', r));
      hung.resume();
      await new Promise((r) => setTimeout(r, 50));
      session.destroy();
      await closed;
      expect(hung.destroyed).toBe(true);
    } finally {
      session.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

