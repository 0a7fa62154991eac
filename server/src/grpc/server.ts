import { fileURLToPath } from 'node:url';
import { AdminServiceService, RateLimitServiceService, TrackingServiceService } from '@floodgate/client';
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Admin } from '../admin/admin.js';
import type { AdminAuth } from '../admin/admin-auth.js';
import type { RateLimiter } from '../limiter/rate-limiter.js';
import type { Logger } from '../log.js';
import type { RpcObserver } from '../metrics/observers.js';
import type { Tracker } from '../tracking/tracker.js';
import { adminService } from './admin-service.js';
import { withServerCodecs } from './call.js';
import { CheckStreams } from './check-stream.js';
import { rateLimitService } from './ratelimit-service.js';
import { rpcMetricsInterceptor } from './rpc-metrics.js';
import { useStreamTables, type StreamTableUse } from './stream-table.js';
import { completeResponseOptions, type ResponseOptionsUse } from './response-options.js';
import { trackingService } from './tracking-service.js';

/** The proto tree, beside server/ in the repo and in the image. */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
const PROTO_FILES = ['floodgate/v1/ratelimit.proto', 'floodgate/v1/tracking.proto', 'floodgate/v1/admin.proto'];

/**
 * Health name for liveness probes: SERVING while the process answers, whatever the store does.
 * Readiness ('' and the service names) goes NOT_SERVING in an outage; restarting every replica
 * because Redis is down would only make things worse.
 */
export const LIVENESS_SERVICE = 'liveness';

export const SERVICE_NAMES = ['floodgate.v1.RateLimitService', 'floodgate.v1.TrackingService', 'floodgate.v1.AdminService'] as const;

/** A grpc-js server whose Floodgate services use the server's wire handling (withServerCodecs). */
class FloodgateServer extends Server {
  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    const ours = Object.values(service).some((m) => m.path.startsWith('/floodgate.'));
    super.addService(ours ? withServerCodecs(service) : service, implementation);
  }
}

export interface GrpcServer {
  server: Server;
  health: HealthImplementation;
  port: number;
  /** All zero when stream tables are off. */
  streamTables: StreamTableUse;
  /** `unavailable` when turned off. */
  responseOptions: ResponseOptionsUse;
  /** The open CheckLimitStream streams, to be closed at shutdown. */
  checkStreams: CheckStreams;
}

export async function startGrpcServer(opts: {
  host: string;
  port: number;
  limiter: RateLimiter;
  tracker: Tracker;
  admin: Admin;
  adminAuth: AdminAuth;
  log: Logger;
  /** Receives the latency and status code of every call. */
  rpcObserver?: RpcObserver;
  /** Bound of each CheckLimitStream (default MAX_PENDING_PER_STREAM; see check-stream.ts). */
  maxPendingPerStream?: number;
  /** Give HTTP/2 sessions Floodgate's stream tables (default true; see stream-table.ts). */
  streamTables?: boolean;
  /** Give grpc-js's shared response options `endStream` (default true; see response-options.ts). */
  completeResponseOptions?: boolean;
}): Promise<GrpcServer> {
  const server = new FloodgateServer({
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    // Channelz (call counters per server and socket, kept for a debugging service Floodgate does
    // not serve) cost about 2 KB of allocation per call.
    'grpc.enable_channelz': 0,
    interceptors: opts.rpcObserver ? [rpcMetricsInterceptor(opts.rpcObserver)] : [],
  });
  const checkStreams = new CheckStreams({ limiter: opts.limiter, log: opts.log, observer: opts.rpcObserver, maxPending: opts.maxPendingPerStream });
  server.addService(RateLimitServiceService, rateLimitService(opts.limiter, checkStreams, opts.log));
  server.addService(TrackingServiceService, trackingService(opts.tracker, opts.log));
  server.addService(AdminServiceService, adminService(opts.admin, opts.adminAuth, opts.log));

  const health = new HealthImplementation({ '': 'SERVING', [LIVENESS_SERVICE]: 'SERVING', ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'SERVING'])) });
  health.addToServer(server);

  const definitions = loadSync(PROTO_FILES, { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
  new ReflectionService(definitions).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const streamTables = opts.streamTables === false ? { servers: 0, sessions: 0, replaced: 0 } : useStreamTables(server, opts.log);
  const responseOptions: ResponseOptionsUse = opts.completeResponseOptions === false ? { state: 'unavailable' } : completeResponseOptions(server, opts.log);
  return { server, health, port, streamTables, responseOptions, checkStreams };
}

/** Marks every service NOT_SERVING (or SERVING). */
export function setServing(health: HealthImplementation, serving: boolean): void {
  const state = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', state);
  for (const s of SERVICE_NAMES) health.setStatus(s, state);
}
