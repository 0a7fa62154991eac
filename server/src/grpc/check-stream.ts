import {
  FloodgateError,
  type CheckLimitResponse,
  type CheckLimitStreamRequest,
  type CheckLimitStreamResponse,
  type StreamedCheck,
  type StreamedDecision,
} from '@floodgate/client';
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { RateLimiter } from '../limiter/rate-limiter.js';
import type { Logger } from '../log.js';
import type { RpcObserver } from '../metrics/observers.js';
import type { Sink } from '../sink.js';
import { failureOf, isUndecodable, requestIdFrom } from './call.js';

export const CHECK_STREAM_PATH = '/floodgate.v1.RateLimitService/CheckLimitStream';

/**
 * Checks being decided plus answers grpc-js has not yet handed to HTTP/2, on one stream, at which
 * the stream stops reading (HTTP/2 flow control then holds the client back); it reads again below
 * half. Bounds the memory and the store load one stream can cause.
 */
export const MAX_PENDING_PER_STREAM = 10_000;

/** Checks one CheckLimitStream message may carry. */
export const MAX_CHECKS_PER_MESSAGE = 1_000;

type Call = ServerDuplexStream<CheckLimitStreamRequest, CheckLimitStreamResponse>;

export interface CheckStreamDeps {
  limiter: RateLimiter;
  log: Logger;
  /** Times each check; nothing when unset. */
  observer?: RpcObserver | undefined;
  /** MAX_PENDING_PER_STREAM unless set. */
  maxPending?: number;
}

/**
 * The server side of CheckLimitStream: every check is decided as CheckLimit decides it and
 * answered under its id once decided, in one message with the others decided in the same turn
 * of the event loop. A check's failure is its answer; only an undecodable message (whose ids are
 * unknown) or shutdown ends the stream. Each check is timed for the RPC metrics under the
 * stream's method, as a CheckLimit call would be.
 */
export class CheckStreams {
  private readonly open = new Set<OpenStream>();
  private closing = false;
  /** The most checks one stream has held at once (see MAX_PENDING_PER_STREAM). */
  peakPending = 0;

  constructor(readonly deps: CheckStreamDeps) {}

  readonly handle = (call: Call): void => {
    if (this.closing) return fail(call, FloodgateError.unavailable('Floodgate is shutting down'));
    const stream = new OpenStream(call, this, () => this.open.delete(stream));
    this.open.add(stream);
  };

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Checks being decided now, over all streams. */
  get inFlight(): number {
    let n = 0;
    for (const stream of this.open) n += stream.inFlight;
    return n;
  }

  /**
   * For shutdown: no more streams; each open one answers the checks it holds, then ends with
   * UNAVAILABLE so that its client reopens it (on another replica, once this one is gone).
   * Checks that arrive meanwhile are answered UNAVAILABLE.
   */
  close(): void {
    this.closing = true;
    for (const stream of this.open) stream.close();
  }
}

class OpenStream {
  inFlight = 0;
  /** Answers decided and not yet written: those decided in one turn of the event loop go together. */
  private outbox: StreamedDecision[] = [];
  private flushing = false;
  private closing = false;
  /** The status the stream ends with once closing and answered: OK when null. */
  private closeError: FloodgateError | null = null;
  private ended = false;

  private readonly deps: CheckStreamDeps;

  constructor(
    private readonly call: Call,
    private readonly streams: CheckStreams,
    private readonly onEnded: () => void,
  ) {
    this.deps = streams.deps;
    call.on('data', this.onMessage);
    call.on('drain', this.throttle);
    // The client has sent its last check: answer those in flight, then end with OK.
    call.on('end', () => this.close(null));
    call.on('cancelled', () => this.ended || this.finish());
    call.on('error', () => this.ended || this.finish());
  }

  private readonly onMessage = (msg: CheckLimitStreamRequest): void => {
    if (this.ended) return;
    if (isUndecodable(msg)) {
      return this.end(FloodgateError.invalid('request', `is not a valid CheckLimitStream message: ${msg.problem}; the stream is ended, as its checks' ids are unknown`));
    }
    const started = performance.now();
    const { checks } = msg;
    if (checks.length > MAX_CHECKS_PER_MESSAGE) {
      const error = FloodgateError.invalid('checks', `holds ${checks.length} checks; at most ${MAX_CHECKS_PER_MESSAGE} are allowed per message`);
      for (const c of checks) this.answerError(c.id, error, started, c.requestId);
    } else {
      for (const c of checks) this.check(c, started);
    }
    this.throttle();
  };

  private check({ id, check, requestId }: StreamedCheck, started: number): void {
    if (this.closing) return this.answerError(id, FloodgateError.unavailable('Floodgate is shutting down: reopen the stream'), started, requestId);
    // Counted first: a check refused at once is answered before checkInto() returns.
    this.inFlight++;
    const answering = new AnsweringCheck(this, id, started, requestId);
    if (check) this.deps.limiter.checkInto(check, answering);
    else answering.failed(FloodgateError.invalid('check', 'is required'));
  }

  /** A check counted in flight is answered (for AnsweringCheck). */
  answered(id: number, response: CheckLimitResponse, started: number): void {
    this.inFlight--;
    this.answer({ id, response, error: undefined });
    this.deps.observer?.rpc(CHECK_STREAM_PATH, status.OK, (performance.now() - started) / 1000);
  }

  /** A check counted in flight failed (for AnsweringCheck). */
  refused(id: number, err: unknown, started: number, requestId: string): void {
    this.inFlight--;
    this.answerError(id, err, started, requestId);
  }

  private answerError(id: number, err: unknown, started: number, givenRequestId: string): void {
    const requestId = requestIdFrom(givenRequestId);
    const error = failureOf(err, this.deps.log.child({ requestId, method: 'CheckLimitStream', checkId: id }), requestId, 'check');
    this.answer({ id, response: undefined, error: { code: error.codeName, message: error.message } });
    this.deps.observer?.rpc(CHECK_STREAM_PATH, error.code, (performance.now() - started) / 1000);
  }

  private answer(decision: StreamedDecision): void {
    if (this.ended) return;
    this.outbox.push(decision);
    if (this.flushing) return;
    this.flushing = true;
    // After the I/O callbacks of this turn: a Redis reply decides many checks at once.
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushing = false;
    if (this.ended) return;
    const decisions = this.outbox;
    this.outbox = [];
    if (decisions.length > 0) this.call.write({ decisions });
    if (this.closing && this.inFlight === 0) this.end(this.closeError);
    else this.throttle();
  };

  /** Memory per stream stays bounded whatever the client sends and however slowly it reads. */
  private readonly throttle = (): void => {
    // Messages grpc-js has yet to hand to HTTP/2 count as one check each: a floor, not a tally.
    const pending = this.inFlight + this.outbox.length + this.call.writableLength;
    const { maxPending = MAX_PENDING_PER_STREAM } = this.deps;
    if (pending > this.streams.peakPending) this.streams.peakPending = pending;
    if (pending >= maxPending) this.call.pause();
    else if (pending < maxPending / 2 && this.call.isPaused()) this.call.resume();
  };

  /** Ends the stream once the checks in flight are answered, with `error`'s status (OK when null). */
  close(error: FloodgateError | null = FloodgateError.unavailable('Floodgate is shutting down: reopen the stream')): void {
    if (this.closing) return;
    this.closing = true;
    this.closeError = error;
    if (!this.flushing) this.flush();
  }

  private end(error: FloodgateError | null): void {
    if (this.ended) return;
    this.finish();
    if (error) fail(this.call, error);
    else this.call.end();
  }

  private finish(): void {
    this.ended = true;
    this.onEnded();
  }
}

/** One streamed check's answer, under its id: one small object per check instead of a promise and two closures. */
class AnsweringCheck implements Sink<CheckLimitResponse> {
  constructor(
    private readonly stream: OpenStream,
    private readonly id: number,
    private readonly started: number,
    private readonly requestId: string,
  ) {}

  done(response: CheckLimitResponse): void {
    this.stream.answered(this.id, response, this.started);
  }

  failed(err: unknown): void {
    this.stream.refused(this.id, err, this.started, this.requestId);
  }
}

/** Ends a stream with an error status (grpc-js sends the status of an emitted error). */
function fail(call: Call, error: FloodgateError): void {
  call.emit('error', { code: error.code, details: error.message });
}
