import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { FloodgateError } from './errors.js';
import {
  RateLimitServiceClient,
  type CheckLimitRequest,
  type CheckLimitResponse,
  type CheckLimitsRequest,
  type CheckLimitsResponse,
  type GetLimitStatusRequest,
  type GetLimitStatusResponse,
} from './gen/floodgate/v1/ratelimit.js';

export interface ClientOptions {
  /** host:port of the Floodgate gRPC server. */
  address: string;
  /** Admin token, sent as `authorization: Bearer …`. */
  token?: string;
  /** Per-call deadline. */
  deadlineMs?: number;
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res?: Res) => void) => unknown;

export interface FloodgateClient {
  checkLimit(req: Partial<CheckLimitRequest> & { policy: string }): Promise<CheckLimitResponse>;
  checkLimits(req: CheckLimitsRequest): Promise<CheckLimitsResponse>;
  getLimitStatus(req: Partial<GetLimitStatusRequest>): Promise<GetLimitStatusResponse>;
  close(): void;
}

const CHECK_DEFAULTS: CheckLimitRequest = { policy: '', userId: '', ip: '', cost: undefined, dryRun: false, recordActivity: '', sessionId: '' };

export function createClient(options: ClientOptions): FloodgateClient {
  const deadlineMs = options.deadlineMs ?? 1_000;
  const rateLimit = new RateLimitServiceClient(options.address, credentials.createInsecure());

  const call = <Req, Res>(client: Client, fn: Unary<Req, Res>, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => {
      const md = new Metadata();
      if (options.token) md.set('authorization', `Bearer ${options.token}`);
      fn.call(client, req, md, { deadline: Date.now() + deadlineMs }, (err, res) =>
        err ? reject(FloodgateError.from(err)) : resolve(res as Res),
      );
    });

  return {
    checkLimit: (req) => call(rateLimit, rateLimit.checkLimit as Unary<CheckLimitRequest, CheckLimitResponse>, { ...CHECK_DEFAULTS, ...req }),
    checkLimits: (req) => call(rateLimit, rateLimit.checkLimits as Unary<CheckLimitsRequest, CheckLimitsResponse>, req),
    getLimitStatus: (req) =>
      call(rateLimit, rateLimit.getLimitStatus as Unary<GetLimitStatusRequest, GetLimitStatusResponse>, { userId: '', ip: '', ...req }),
    close: () => rateLimit.close(),
  };
}
