import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AdminAuth } from '../admin/admin-auth.js';
import { requestIdFrom } from '../grpc/call.js';
import type { GatewayConfig } from '../config/env.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { IpAllowlist } from '../net/ip.js';
import { checkAdminIp } from './admin-ip.js';
import { GrpcBackend, type GatewayBackend } from './backend.js';
import { clientErrorResponse, httpErrorOf } from './errors.js';
import { openApiDocument } from './openapi.js';
import { API_ROUTES, type Access, type ApiRequest } from './routes.js';
import { noFields } from './schemas.js';

export interface GatewayOptions {
  backend: GatewayBackend;
  metrics: GatewayMetrics;
  log: Logger;
  adminTokens: readonly string[];
  /** Validated IPs / CIDRs; empty allows every address on /api/admin/*. */
  adminIpAllowlist: IpAllowlist;
  /** Proxies in front whose X-Forwarded-For entries are trusted (0: use the socket address). */
  trustedProxyHops: number;
  version: string;
}

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Bodies are a few fields; anything larger is a mistake or an attack. */
export const BODY_LIMIT_BYTES = 16 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/**
 * The admin HTTP gateway: the existing backend's routes over Floodgate's gRPC API, bearer auth,
 * an optional admin IP allowlist, one error body everywhere and a request id on every response.
 */
export function buildGateway(o: GatewayOptions): FastifyInstance {
  const auth = new AdminAuth(o.adminTokens);
  const app = Fastify({
    loggerInstance: o.log.child({ component: 'gateway' }) as FastifyBaseLogger,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    requestIdHeader: false,
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      // Probes and scrapes every few seconds would drown the admin requests.
      disableRequestLogging: (req) => QUIET_PATHS.has(req.url),
    }),
    // req.ip: the X-Forwarded-For entry added by the outermost trusted proxy.
    trustProxy: (_addr: string, hop: number) => hop < o.trustedProxyHops,
    bodyLimit: BODY_LIMIT_BYTES,
    // Percent-encoded 256-byte user ids are up to 768 characters.
    routerOptions: { maxParamLength: 1024 },
    exposeHeadRoutes: false,
    // Types are checked, never coerced, and unknown fields are rejected, not stripped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Undecodable URLs and over-long path segments: the standard body, not fastify's own.
    frameworkErrors: (err, req, reply) => answerError(err, req, reply),
    // Requests node's parser refuses (headers too large, not HTTP) never reach a route.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const requestId = randomUUID();
      app.log.info({ requestId, err: err.message, code: err.code }, 'request refused by the HTTP parser');
      if (socket.writable) socket.write(clientErrorResponse(err.code, requestId));
      socket.destroy();
    },
  });

  // JSON only: any other body is a 415 with the standard body, not a string to trip over.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const access = req.routeOptions.config.access ?? 'none';
    if (access === 'admin') checkAdminIp(req.ip, o.adminIpAllowlist);
    if (access !== 'none') req.token = auth.verifyHeader(req.headers.authorization);
  });
  app.addHook('onResponse', async (req, reply) => {
    o.metrics.http(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  const answerError = (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { error, httpStatus } = httpErrorOf(err);
    if (httpStatus >= 500 && error.code === status.INTERNAL) req.log.error({ err }, 'request failed unexpectedly');
    else req.log.info({ code: error.codeName, err: error.message }, 'request failed');
    return sendError(reply, req, error, httpStatus);
  };
  app.setErrorHandler(answerError);
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, req, FloodgateError.notFound(`no route ${req.method} ${req.url.split('?')[0]}`), 404),
  );

  for (const r of API_ROUTES) {
    app.route({
      method: r.method,
      url: r.url,
      config: { access: r.access },
      schema: definedOnly({ params: r.params, querystring: r.query ?? noFields, body: r.body }),
      // Routes whose body is optional see an empty object rather than a missing body.
      preValidation: async (req) => {
        if (r.body && req.body === undefined) req.body = {};
      },
      handler: (req) => r.handle(req as unknown as ApiRequest, o.backend.client(req.token ?? ''), { requestId: req.id }),
    });
  }

  // Probes may ask with HEAD (curl -I, some load balancers); the API's routes answer GET only.
  app.route({ method: ['GET', 'HEAD'], url: '/healthz', handler: async () => ({ status: 'ok' }) });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/readyz',
    handler: async () => {
      const serving = await o.backend.health();
      if (serving !== 'SERVING') throw FloodgateError.unavailable(`floodgate: health is ${serving}`);
      return { status: serving };
    },
  });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await o.metrics.expose();
    return reply.type(contentType).send(body);
  });
  const document = openApiDocument(o.version);
  app.get('/openapi.json', async () => document);
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's bearer token, once checked. */
    token?: string;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sendError(reply: FastifyReply, req: FastifyRequest, error: FloodgateError, httpStatus: number): FastifyReply {
  // Set here too: framework errors are answered before the onRequest hook.
  return reply.code(httpStatus).header('x-request-id', req.id).type('application/json').send(error.toBody(req.id));
}

/** How long the gateway waits for Floodgate's gRPC answer before a 503. */
const BACKEND_DEADLINE_MS = 2_000;

/**
 * Builds the gateway from its configuration, talking to Floodgate at `grpcAddress` through the
 * client SDK (the same for the in-process and the standalone gateway), and listens; logs
 * "HTTP listening" with the bound port.
 */
export async function startGateway(o: {
  config: GatewayConfig;
  grpcAddress: string;
  /** The validated ADMIN_IP_ALLOWLIST (validated by the caller, so a bad one exits before start). */
  adminIpAllowlist: IpAllowlist;
  metrics: GatewayMetrics;
  log: Logger;
}): Promise<{ app: FastifyInstance; port: number; close(): Promise<void> }> {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const { httpHost: host, httpPort, adminTokens, trustedProxyHops } = o.config;
  const backend = new GrpcBackend(o.grpcAddress, BACKEND_DEADLINE_MS);
  const app = buildGateway({ backend, metrics: o.metrics, log: o.log, adminTokens, adminIpAllowlist: o.adminIpAllowlist, trustedProxyHops, version });
  await app.listen({ host, port: httpPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : httpPort;
  o.log.info({ httpPort: port }, `HTTP listening on ${host}:${port}`);
  return {
    app,
    port,
    close: async () => {
      await app.close();
      backend.close();
    },
  };
}
