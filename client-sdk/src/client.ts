import { Client, credentials, Metadata, status, type ChannelCredentials } from '@grpc/grpc-js';
import { CheckStream, type PendingCheck } from './check-stream.js';
import { toDecision, unavailableDecision, type Decision, type UnavailableMode } from './decision.js';
import { DenyCache, type DenyCacheOptions } from './deny-cache.js';
import { FloodgateError } from './errors.js';
import * as admin from './gen/floodgate/v1/admin.js';
import * as rl from './gen/floodgate/v1/ratelimit.js';
import * as tracking from './gen/floodgate/v1/tracking.js';
import { checkAddress, checkKnownKeys, checkObject, checkRequest, INT64, UINT32, UINT64, type NumberRange } from './validation.js';
import { decodeMessage, encodeMessage, type Decoder, type Encoder } from './wire.js';

export interface ClientOptions {
  /** host:port of the Floodgate gRPC server. */
  address: string;
  /** Admin token, sent as `authorization: Bearer …` on admin calls. */
  token?: string;
  /** Channel credentials; plaintext when unset (the sidecar is on localhost). */
  tls?: ChannelCredentials;
  /** Per-call deadline in ms (default 1000). Every call settles within it. */
  deadlineMs?: number;
  /**
   * What checkLimit/checkLimits answer when Floodgate is unreachable, too slow or UNAVAILABLE:
   * a decision that allows or denies, flagged `unavailable: true`, or a rejected FloodgateError
   * ('throw', the default, so that nothing is decided for the caller unasked).
   */
  onUnavailable?: UnavailableMode;
  /**
   * Called for every call that failed for want of Floodgate. When unset, the client emits one
   * process warning (code FLOODGATE_UNAVAILABLE) per outage: at its first failure after a success.
   */
  onUnavailableEvent?: (event: UnavailableEvent) => void;
  /** Answer repeated checks of a denied key locally until its retry-after passes. Off by default. */
  denyCache?: boolean | DenyCacheOptions;
  /**
   * How checkLimit reaches Floodgate: 'stream' (the default) sends every check over one
   * long-lived CheckLimitStream, the checks of one event-loop turn in one message; 'unary' makes
   * a CheckLimit call per check. In the bench the stream takes a sixth of the server's CPU per
   * check and a twentieth of the app's, and leaves Node's per-call HTTP/2 garbage behind
   * (docs/benchmarks.md); against a server without CheckLimitStream the client falls back to
   * calls by itself. checkLimits is always one call.
   */
  checkTransport?: CheckTransport;
}

export type CheckTransport = 'stream' | 'unary';

/** One call that Floodgate did not answer in time. */
export interface UnavailableEvent {
  /** gRPC method name, e.g. "CheckLimit". */
  method: string;
  address: string;
  error: FloodgateError;
  /** How the call was answered. */
  outcome: UnavailableMode;
}

/** Requests may leave out any field; the protobuf defaults fill in. */
export type DeepPartial<T> = T extends Array<infer U>
  ? Array<DeepPartial<U>>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** A generated method: its path, and its types (requests are encoded and responses decoded here). */
interface MethodDef<Req, Res> {
  path: string;
  requestDeserialize(value: Buffer): Req;
  responseDeserialize(value: Buffer): Res;
}

interface Codec<Req> extends Encoder<Req> {
  fromPartial(object: never): Req;
}

/** Options of one call. */
export interface CallOptions {
  /**
   * Sent as `x-request-id` metadata: the server logs the call under this id (e.g. the id of the
   * HTTP request being served). 1..128 of letters, digits, `_ . : -`.
   */
  requestId?: string;
  /** This call's deadline in ms, instead of the client's `deadlineMs`. */
  deadlineMs?: number;
}

export type Call<Req, Res> = (req?: DeepPartial<Req>, options?: CallOptions) => Promise<Res>;

/** A check as the client takes it: any field may be left out but the policy, which no check can do without. */
export type Check = DeepPartial<rl.CheckLimitRequest> & { policy: string };
/** A batch of checks; each item answers on its own (see CheckResult). */
export interface Checks {
  checks: Check[];
}

/** What is wrong with a call's options, naming the option; undefined when nothing is. */
function optionsProblem(requestId: string | undefined, deadlineMs: number): FloodgateError | undefined {
  if (requestId !== undefined && !isRequestId(requestId)) return FloodgateError.invalid('requestId', 'must be 1..128 letters, digits, "_", ".", ":" or "-"');
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) return FloodgateError.invalid('deadlineMs', `must be a positive number, got ${deadlineMs}`);
  return undefined;
}

/** Whether the server keeps this request id as it is (it replaces any other with a fresh one). */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && /^[\w.:-]{1,128}$/.test(value);
}

/** One batch item: a decision, or the item's own error (shaped like the HTTP error body). */
export type CheckResult = { response: Decision; error: undefined } | { response: undefined; error: rl.ItemError };

export interface CheckLimitsDecisions {
  /** One result per check, in request order. */
  results: CheckResult[];
}

export interface FloodgateClient {
  checkLimit(req: Check, options?: CallOptions): Promise<Decision>;
  checkLimits(req: Checks, options?: CallOptions): Promise<CheckLimitsDecisions>;
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
  /** The local deny cache, when enabled. */
  readonly denyCache: DenyCache | undefined;
  /** The underlying channel's client, for advanced use. */
  readonly channel: Client;
  /**
   * Stops new calls (they reject FAILED_PRECONDITION `client is closed`) and closes the channel
   * once every call made before is settled: sent and answered, or failed by its deadline at the
   * latest. Resolves when the channel is closed.
   */
  close(): Promise<void>;
}

/** Codes that mean "Floodgate did not answer", as opposed to "Floodgate said no". */
const UNAVAILABLE_CODES: ReadonlySet<status> = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

const CHECK_METHODS: ReadonlySet<string> = new Set(['CheckLimit', 'CheckLimits']);
const MODES: readonly UnavailableMode[] = ['allow', 'deny', 'throw'];
const TRANSPORTS: readonly CheckTransport[] = ['stream', 'unary'];
const OPTIONS: readonly (keyof ClientOptions)[] = ['address', 'token', 'tls', 'deadlineMs', 'onUnavailable', 'onUnavailableEvent', 'denyCache', 'checkTransport'];

/** The numeric fields of each request, by the range the server accepts (see proto/floodgate/v1). */
type Numbers = Readonly<Record<string, NumberRange>>;
const NONE: Numbers = {};
// The server refuses 0 ("leave it unset for 1") and a cost over the policy's limit, which only it knows.
const CHECK: Numbers = { cost: { min: 1, max: UINT32.max, note: 'leave it unset for 1' } };

/**
 * A promise client over one channel for every Floodgate RPC. Every call settles within
 * `deadlineMs`; failures reject with FloodgateError carrying the gRPC code, except that
 * checks answer by `onUnavailable` when Floodgate cannot be reached.
 */
export function createClient(options: ClientOptions): FloodgateClient {
  checkObject(options, 'options');
  checkKnownKeys(options, OPTIONS);
  const { address } = options;
  const deadlineMs = options.deadlineMs ?? 1_000;
  const mode = options.onUnavailable ?? 'throw';
  checkAddress(address);
  if (options.token !== undefined && typeof options.token !== 'string') throw FloodgateError.invalid('token', 'must be a string');
  if (options.onUnavailableEvent !== undefined && typeof options.onUnavailableEvent !== 'function') {
    throw FloodgateError.invalid('onUnavailableEvent', 'must be a function');
  }
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw FloodgateError.invalid('deadlineMs', `must be a positive number, got ${deadlineMs}`);
  if (!MODES.includes(mode)) throw FloodgateError.invalid('onUnavailable', `must be one of ${MODES.join(', ')}, got ${mode}`);
  const transport = options.checkTransport ?? 'stream';
  if (!TRANSPORTS.includes(transport)) throw FloodgateError.invalid('checkTransport', `must be one of ${TRANSPORTS.join(', ')}, got ${transport}`);

  // Before the channel is made, so that a bad option leaves nothing open.
  const cache = denyCacheOf(options.denyCache);
  const channel = new Client(address, options.tls ?? credentials.createInsecure());
  const report = reporter(options.onUnavailableEvent);

  // close(): calls made before it are still sent and answered (grpc-js starts a call after the
  // turn it is made in, and fails it if the channel is closed by then), so the channel closes
  // once the unary calls in flight and the check stream's checks have settled.
  let closing: Promise<void> | undefined;
  let channelClosed = () => {};
  let inFlight = 0;
  let streamDrained = false;
  let channelOpen = true;
  const closeIfSettled = () => {
    if (!closing || inFlight > 0 || !streamDrained || !channelOpen) return;
    channelOpen = false;
    channel.close();
    channelClosed();
  };

  const rpc =
    <Req, Res>(def: MethodDef<Req, Res>, codec: Codec<Req>, decoder: Decoder<Res>, numbers: Numbers, withToken = false) =>
    (req: DeepPartial<Req> | undefined, call: CallOptions = {}): Promise<Res> => {
      const { requestId } = call;
      const callDeadlineMs = call.deadlineMs ?? deadlineMs;
      const problem = optionsProblem(requestId, callDeadlineMs);
      if (problem) return Promise.reject(problem);
      let bytes: Buffer;
      try {
        // Only a request left out is the empty one; null is a mistake to name, not to send.
        checkRequest(req === undefined ? {} : req, numbers);
      } catch (err) {
        return Promise.reject(err);
      }
      try {
        // Encoded here, not inside grpc-js, so a value checkRequest does not look at and that
        // cannot be encoded is the caller's INVALID_ARGUMENT rather than an INTERNAL from the transport.
        bytes = encodeMessage(codec, codec.fromPartial((req ?? {}) as never));
      } catch (err) {
        return Promise.reject(FloodgateError.invalid('request', `cannot be encoded: ${err instanceof Error ? err.message : String(err)}`));
      }
      inFlight++;
      return new Promise<Res>((resolve, reject) => {
        const md = new Metadata();
        if (withToken && options.token) md.set('authorization', `Bearer ${options.token}`);
        if (requestId !== undefined) md.set('x-request-id', requestId);
        let settled = false;
        const settle = (err: FloodgateError | null, res?: Res) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          inFlight--;
          closeIfSettled();
          if (err) return reject(err);
          report.answered();
          resolve(res as Res);
        };
        // grpc-js honours the deadline too; this timer makes "settles within it" hold whatever
        // state the connection is in.
        const timer = setTimeout(() => {
          settle(new FloodgateError(status.DEADLINE_EXCEEDED, `no answer from Floodgate at ${address} within ${callDeadlineMs} ms`));
          pending.cancel();
        }, callDeadlineMs);
        const pending = channel.makeUnaryRequest(
          def.path,
          (b: Buffer) => b,
          (b: Buffer) => decodeMessage(decoder, b),
          bytes,
          md,
          { deadline: Date.now() + callDeadlineMs },
          (err, res) => settle(err ? FloodgateError.from(err) : null, res),
        );
      });
    };

  /**
   * The FloodgateError behind a failed call, after reporting it if it means Floodgate did not
   * answer. Returns the decision answer mode when the caller should answer by it instead.
   */
  const failure = (method: string, err: unknown, outcome: UnavailableMode): { error: FloodgateError; answer?: 'allow' | 'deny' } => {
    const error = FloodgateError.from(err);
    if (!UNAVAILABLE_CODES.has(error.code)) return { error };
    report.failed({ method, address, error, outcome });
    return { error, answer: outcome === 'throw' ? undefined : outcome };
  };

  /** A plain RPC: rejects on any failure, reporting unavailability. */
  const unary = <Req, Res>(def: MethodDef<Req, Res>, codec: Codec<Req>, decoder: Decoder<Res>, numbers: Numbers, withToken = false): Call<Req, Res> => {
    const send = rpc(def, codec, decoder, numbers, withToken);
    const method = def.path.slice(def.path.lastIndexOf('/') + 1);
    return (req, call) =>
      closing
        ? Promise.reject(closedError())
        : send(req, call).catch((err) => {
            throw failure(method, err, 'throw').error;
          });
  };

  const R = rl.RateLimitServiceService;
  const T = tracking.TrackingServiceService;
  const A = admin.AdminServiceService;
  const callCheck = rpc(R.checkLimit, rl.CheckLimitRequest, rl.CheckLimitResponse, CHECK);
  const stream = transport === 'stream' ? new CheckStream(channel, address) : undefined;
  const sendChecks = rpc(R.checkLimits, rl.CheckLimitsRequest, rl.CheckLimitsResponse, NONE);

  /**
   * One check's promise, settled from its answer: besides the promise, the one object a check
   * over the stream makes (async functions and then() chains made about 900 bytes of garbage per
   * check). Settles as before: a throw of the deny cache rejects as it is; any other failure goes
   * through failure().
   */
  class CheckCall implements PendingCheck {
    deadlineAt = 0;

    constructor(
      private readonly req: DeepPartial<rl.CheckLimitRequest>,
      private readonly call: CallOptions | undefined,
      private readonly resolve: (decision: Decision) => void,
      private readonly reject: (err: unknown) => void,
    ) {}

    send(): void {
      if (!stream?.supported) return this.byCall();
      const requestId = this.call?.requestId;
      const callDeadlineMs = this.call?.deadlineMs ?? deadlineMs;
      const problem = optionsProblem(requestId, callDeadlineMs);
      if (problem) return this.failed(problem);
      stream.check(this.req, requestId, callDeadlineMs, this);
    }

    /** The stream's answer. */
    done(res: rl.CheckLimitResponse): void {
      report.answered();
      this.decided(res);
    }

    /** The stream's failure, or the check's own; against a server without the stream, this check and every later one go as calls. */
    failed(err: unknown): void {
      if (stream && !stream.supported) this.byCall();
      else this.refused(err);
    }

    private byCall(): void {
      callCheck(this.req, this.call).then(
        (res) => this.decided(res),
        (err: unknown) => this.refused(err),
      );
    }

    private decided(res: rl.CheckLimitResponse): void {
      try {
        const decision = toDecision(res);
        cache?.remember(this.req, decision);
        this.resolve(decision);
      } catch (err) {
        this.refused(err);
      }
    }

    private refused(err: unknown): void {
      try {
        const { error, answer } = failure('CheckLimit', err, mode);
        if (answer) this.resolve(unavailableDecision(this.req.policy ?? '', answer, error));
        else this.reject(error);
      } catch (thrown) {
        this.reject(thrown);
      }
    }
  }

  // One executor for every check's promise: no closure per check to hand its resolvers over.
  let resolveNext: (decision: Decision) => void = () => {};
  let rejectNext: (err: unknown) => void = () => {};
  const takeResolvers = (resolve: (decision: Decision) => void, reject: (err: unknown) => void) => {
    resolveNext = resolve;
    rejectNext = reject;
  };

  // JavaScript callers can still leave the request out or pass anything: checkRequest names it.
  const checkLimit = (req: Check, call?: CallOptions): Promise<Decision> => {
    // Not through failure(): a closed client is the caller's mistake, never an onUnavailable answer.
    if (closing) return Promise.reject(closedError());
    let hit: Decision | undefined;
    try {
      // Before the deny cache, which keys by the request's fields; the stream encodes it later.
      checkRequest(req, CHECK);
      hit = cache?.get(req);
    } catch (err) {
      return Promise.reject(err);
    }
    if (hit) return Promise.resolve(hit);
    const decided = new Promise<Decision>(takeResolvers);
    const check = new CheckCall(req, call, resolveNext, rejectNext);
    try {
      check.send();
    } catch (err) {
      check.failed(err);
    }
    return decided;
  };

  const checkLimits = async (req: Checks, call?: CallOptions): Promise<CheckLimitsDecisions> => {
    if (closing) throw closedError();
    checkRequest(req, NONE);
    const checks = req.checks ?? [];
    if (!Array.isArray(checks)) throw FloodgateError.invalid('checks', 'must be an array');
    // An item refused here is that item's error, as one the server refuses is; the others are still sent.
    const results: Array<CheckResult | undefined> = checks.map((c, i) => {
      try {
        checkRequest(c, CHECK, `checks[${i}].`);
      } catch (err) {
        const e = FloodgateError.from(err);
        return { response: undefined, error: { code: e.codeName, message: e.message } };
      }
      const hit = cache?.get(c);
      return hit && { response: hit, error: undefined };
    });
    // A loop, not flatMap: no array per check, and V8's flatMap is slow besides.
    const sent: number[] = [];
    for (let i = 0; i < results.length; i++) if (!results[i]) sent.push(i);
    if (sent.length === 0 && checks.length > 0) return { results: results as CheckResult[] };
    try {
      const res = await sendChecks({ checks: sent.map((i) => checks[i]) }, call);
      res.results.forEach((r, j) => {
        const i = sent[j];
        if (r.response) {
          const decision = toDecision(r.response);
          cache?.remember(checks[i], decision);
          results[i] = { response: decision, error: undefined };
        } else {
          // The server numbers items within what was sent; renumber them as the caller did.
          const message = (r.error?.message ?? '').replace(`checks[${j}]`, `checks[${i}]`);
          results[i] = { response: undefined, error: { code: r.error?.code ?? 'INTERNAL', message } };
        }
      });
    } catch (err) {
      const { error, answer } = failure('CheckLimits', err, mode);
      if (!answer) throw error;
      for (const i of sent) results[i] = { response: unavailableDecision(checks[i].policy ?? '', answer, error), error: undefined };
    }
    return { results: results as CheckResult[] };
  };

  return {
    checkLimit,
    checkLimits,
    getLimitStatus: unary(R.getLimitStatus, rl.GetLimitStatusRequest, rl.GetLimitStatusResponse, NONE),
    recordActivity: unary(T.recordActivity, tracking.RecordActivityRequest, tracking.RecordActivityResponse, { atMs: INT64 }),
    getUserStats: unary(T.getUserStats, tracking.GetUserStatsRequest, tracking.GetUserStatsResponse, NONE),
    admin: {
      listUsers: unary(A.listUsers, admin.ListUsersRequest, admin.ListUsersResponse, { pageSize: UINT32 }, true),
      getUserDetail: unary(A.getUserDetail, admin.GetUserDetailRequest, admin.GetUserDetailResponse, NONE, true),
      getStatistics: unary(A.getStatistics, admin.GetStatisticsRequest, admin.GetStatisticsResponse, NONE, true),
      setSuspension: unary(A.setSuspension, admin.SetSuspensionRequest, admin.SetSuspensionResponse, { durationMs: UINT64 }, true),
      resetTracking: unary(A.resetTracking, admin.ResetTrackingRequest, admin.ResetTrackingResponse, NONE, true),
      resetRateLimits: unary(A.resetRateLimits, admin.ResetRateLimitsRequest, admin.ResetRateLimitsResponse, NONE, true),
      getStoreStatus: unary(A.getStoreStatus, admin.GetStoreStatusRequest, admin.GetStoreStatusResponse, NONE, true),
    },
    denyCache: cache,
    channel,
    close: () => {
      if (!closing) {
        closing = new Promise<void>((resolve) => (channelClosed = resolve));
        // The stream sends the checks of this turn at once; its fallback calls count as calls in flight.
        if (!stream) streamDrained = true;
        else {
          stream.close(() => {
            streamDrained = true;
            closeIfSettled();
          });
        }
        closeIfSettled();
      }
      return closing;
    },
  };
}

const closedError = () => new FloodgateError(status.FAILED_PRECONDITION, 'client is closed');

/** The deny cache `denyCache` asks for: `true` or `{ maxEntries }` turns it on, `false` or unset leaves it off. */
function denyCacheOf(option: ClientOptions['denyCache']): DenyCache | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return new DenyCache();
  if (typeof option !== 'object' || option === null || Array.isArray(option)) throw FloodgateError.invalid('denyCache', 'must be true, false or { maxEntries, maxMs }');
  checkKnownKeys(option, ['maxEntries', 'maxMs'], 'denyCache.');
  return new DenyCache(option);
}

const OUTCOMES: Record<UnavailableMode, string> = { allow: 'allowing', deny: 'denying', throw: 'failing' };

/**
 * Says what was observed, not more: a deadline that ran out may be the caller's own short one,
 * and UNAVAILABLE may come from Floodgate itself (its store is down), not only from the connection.
 */
function unavailableWarning({ method, address, error, outcome }: UnavailableEvent): string {
  const what =
    error.code === status.DEADLINE_EXCEEDED
      ? `${method} to Floodgate at ${address} ran out of its deadline`
      : `${method} to Floodgate at ${address} failed with ${error.codeName}`;
  // Only checks answer by onUnavailable; every other call fails.
  const then = CHECK_METHODS.has(method) ? `${OUTCOMES[outcome]} the ${method === 'CheckLimits' ? 'checks' : 'check'} (onUnavailable: '${outcome}')` : 'failing the call';
  return `${what} (${error.message}); ${then}`;
}

/** Hands every failure to the app's callback, or warns once per outage when there is none. */
function reporter(callback: ((event: UnavailableEvent) => void) | undefined) {
  let inOutage = false;
  return {
    failed(event: UnavailableEvent): void {
      if (callback) return callback(event);
      if (inOutage) return;
      inOutage = true;
      process.emitWarning(unavailableWarning(event), { code: 'FLOODGATE_UNAVAILABLE' });
    },
    answered(): void {
      inOutage = false;
    },
  };
}
