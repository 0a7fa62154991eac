import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { FloodgateError } from './errors.js';
import * as admin from './gen/floodgate/v1/admin.js';
import * as rl from './gen/floodgate/v1/ratelimit.js';
import * as tracking from './gen/floodgate/v1/tracking.js';

export interface ClientOptions {
  /** host:port of the Floodgate gRPC server. */
  address: string;
  /** Admin token, sent as `authorization: Bearer …` on admin calls. */
  token?: string;
  /** Channel credentials; plaintext when unset (the sidecar is on localhost). */
  tls?: ChannelCredentials;
  /** Per-call deadline in ms (default 1000). */
  deadlineMs?: number;
}

/** Requests may leave out any field; the protobuf defaults fill in. */
export type DeepPartial<T> = T extends Array<infer U>
  ? Array<DeepPartial<U>>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

interface MethodDef<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

interface Codec<Req> {
  fromPartial(object: never): Req;
}

export type Call<Req, Res> = (req?: DeepPartial<Req>) => Promise<Res>;

export interface FloodgateClient {
  checkLimit: Call<rl.CheckLimitRequest, rl.CheckLimitResponse>;
  checkLimits: Call<rl.CheckLimitsRequest, rl.CheckLimitsResponse>;
  getLimitStatus: Call<rl.GetLimitStatusRequest, rl.GetLimitStatusResponse>;
  recordActivity: Call<tracking.RecordActivityRequest, tracking.RecordActivityResponse>;
  getUserStats: Call<tracking.GetUserStatsRequest, tracking.GetUserStatsResponse>;
  admin: {
    listUsers: Call<admin.ListUsersRequest, admin.ListUsersResponse>;
    getUserDetail: Call<admin.GetUserDetailRequest, admin.GetUserDetailResponse>;
    getStatistics: Call<admin.GetStatisticsRequest, admin.GetStatisticsResponse>;
    setSuspension: Call<admin.SetSuspensionRequest, admin.SetSuspensionResponse>;
    resetTracking: Call<admin.ResetTrackingRequest, admin.ResetTrackingResponse>;
    resetRateLimits: Call<admin.ResetRateLimitsRequest, admin.ResetRateLimitsResponse>;
    getStoreStatus: Call<admin.GetStoreStatusRequest, admin.GetStoreStatusResponse>;
  };
  /** The underlying channel's client, for advanced use. */
  readonly channel: Client;
  close(): void;
}

/**
 * A promise client over one channel for every Floodgate RPC. Failures reject with
 * FloodgateError carrying the gRPC code.
 */
export function createClient(options: ClientOptions): FloodgateClient {
  const deadlineMs = options.deadlineMs ?? 1_000;
  const channel = new Client(options.address, options.tls ?? credentials.createInsecure());

  const unary =
    <Req, Res>(def: MethodDef<Req, Res>, codec: Codec<Req>, withToken = false): Call<Req, Res> =>
    (req) =>
      new Promise<Res>((resolve, reject) => {
        const md = new Metadata();
        if (withToken && options.token) md.set('authorization', `Bearer ${options.token}`);
        channel.makeUnaryRequest(
          def.path,
          (v: Req) => def.requestSerialize(v),
          (b: Buffer) => def.responseDeserialize(b),
          codec.fromPartial((req ?? {}) as never),
          md,
          { deadline: Date.now() + deadlineMs },
          (err, res) => (err ? reject(FloodgateError.from(err)) : resolve(res as Res)),
        );
      });

  const R = rl.RateLimitServiceService;
  const T = tracking.TrackingServiceService;
  const A = admin.AdminServiceService;
  return {
    checkLimit: unary(R.checkLimit, rl.CheckLimitRequest),
    checkLimits: unary(R.checkLimits, rl.CheckLimitsRequest),
    getLimitStatus: unary(R.getLimitStatus, rl.GetLimitStatusRequest),
    recordActivity: unary(T.recordActivity, tracking.RecordActivityRequest),
    getUserStats: unary(T.getUserStats, tracking.GetUserStatsRequest),
    admin: {
      listUsers: unary(A.listUsers, admin.ListUsersRequest, true),
      getUserDetail: unary(A.getUserDetail, admin.GetUserDetailRequest, true),
      getStatistics: unary(A.getStatistics, admin.GetStatisticsRequest, true),
      setSuspension: unary(A.setSuspension, admin.SetSuspensionRequest, true),
      resetTracking: unary(A.resetTracking, admin.ResetTrackingRequest, true),
      resetRateLimits: unary(A.resetRateLimits, admin.ResetRateLimitsRequest, true),
      getStoreStatus: unary(A.getStoreStatus, admin.GetStoreStatusRequest, true),
    },
    channel,
    close: () => channel.close(),
  };
}
