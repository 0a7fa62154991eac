import { Metadata, status, type Client, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { FloodgateError } from './errors.js';
import { DeadlineQueue } from './deadline-queue.js';
import { decodeMessage, MessageRun } from './wire.js';
import { CheckTable } from './check-table.js';
import { CheckLimitRequest, CheckLimitStreamRequest, CheckLimitStreamResponse, RateLimitServiceService, type CheckLimitResponse } from './gen/floodgate/v1/ratelimit.js';

/** The server's limit of checks per message. */
const MAX_CHECKS_PER_MESSAGE = 1_000;

const METHOD = RateLimitServiceService.checkLimitStream;

/** CheckLimitRequest's fields are all scalars: a partial one is a DeepPartial one. */
type CheckInput = Partial<CheckLimitRequest>;

/**
 * A stream with no check in flight for this long is closed (the next check opens another): an
 * open stream keeps its process alive, and a script that checks once and forgets close() should
 * still end.
 */
export const IDLE_STREAM_MS = 1_000;

/**
 * A stream older than this is half-closed at its next check and a new one opened: with a
 * balancing policy that spreads calls over several servers (round_robin), a new stream may go
 * to another, so long-running clients still spread their checks as calls would.
 */
export const STREAM_MAX_AGE_MS = 30_000;

/**
 * A check in flight: told its answer once. An object the caller already has rather than a
 * promise: on every check of an app, a promise with its resolvers and the then() that read it
 * were about 400 bytes of garbage.
 */
export interface PendingCheck {
  done(res: CheckLimitResponse): void;
  failed(err: FloodgateError): void;
  /** performance.now() time; set by check(). */
  deadlineAt: number;
}

/** One open CheckLimitStream and the checks it carries. */
interface OpenStream {
  call: ClientDuplexStream<Buffer, CheckLimitStreamResponse>;
  pending: CheckTable<PendingCheck>;
  /** By deadline length (calls may set their own): each queue's deadlines fall due in order. */
  deadlines: Map<number, DeadlineQueue>;
  /** Checks not yet sent, each encoded as a message of its own, back to back (see flush). */
  unsent: MessageRun;
  /** performance.now() times: when the stream was opened, the last check made, the last answer arrived (0 before the first). */
  openedAt: number;
  checkedAt: number;
  answeredAt: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * checkLimit over CheckLimitStream: every check of the client shares one long-lived stream,
 * opened on first use and again after one ends, and checks made in the same turn of the event
 * loop share a message, so a check costs a part of a message each way rather than an HTTP/2
 * stream with headers and trailers per call. Every check settles within its deadline; checks in
 * flight when their stream ends fail with the stream's status (UNAVAILABLE for a lost connection
 * or a server shutting down). A stream that has answered nothing for a whole deadline is taken
 * for stuck and replaced, one with nothing in flight for IDLE_STREAM_MS is closed, and one older
 * than STREAM_MAX_AGE_MS is replaced at its next check. A server that does not know the method
 * (UNIMPLEMENTED) turns `supported` false, and the client goes back to CheckLimit calls.
 */
export class CheckStream {
  private open: OpenStream | undefined;
  /** Every stream not yet ended: the open one and those half-closed that may still hold checks. */
  private readonly streams = new Set<OpenStream>();
  /** Set by close(): told once no stream holds a check. */
  private drained: (() => void) | undefined;
  private nextId = 0;
  supported = true;

  constructor(
    private readonly channel: Client,
    private readonly address: string,
    private readonly maxAgeMs = STREAM_MAX_AGE_MS,
  ) {}

  /** Sends a check, whose answer `pending` is told; a check that cannot be encoded fails before this returns. */
  check(req: CheckInput, requestId: string | undefined, deadlineMs: number, pending: PendingCheck): void {
    if (this.open && performance.now() - this.open.openedAt > this.maxAgeMs) this.retire();
    const stream = (this.open ??= this.start());
    const id = this.freeId(stream);
    try {
      // Encoded here, as CheckLimit's request is: a value that cannot be encoded is the caller's fault.
      const check = CheckLimitRequest.fromPartial(req as never);
      stream.unsent.append(CheckLimitStreamRequest, { checks: [{ id, check, requestId: requestId ?? '' }] });
    } catch (err) {
      return pending.failed(FloodgateError.invalid('request', `cannot be encoded: ${err instanceof Error ? err.message : String(err)}`));
    }
    stream.checkedAt = performance.now();
    pending.deadlineAt = stream.checkedAt + deadlineMs;
    stream.pending.set(id, pending);
    this.deadlinesOf(stream, deadlineMs).add(id, pending.deadlineAt);
    if (stream.unsent.messages === MAX_CHECKS_PER_MESSAGE) this.flush(stream);
    else if (stream.unsent.messages === 1) setImmediate(() => this.flush(stream));
  }

  private deadlinesOf(stream: OpenStream, deadlineMs: number): DeadlineQueue {
    let queue = stream.deadlines.get(deadlineMs);
    if (!queue) {
      queue = new DeadlineQueue(
        (id, deadlineAt) => this.expire(stream, id, deadlineAt, deadlineMs),
        (id, deadlineAt) => stream.pending.get(id)?.deadlineAt !== deadlineAt,
      );
      stream.deadlines.set(deadlineMs, queue);
    }
    return queue;
  }

  private expire(stream: OpenStream, id: number, deadlineAt: number, deadlineMs: number): void {
    // Unanswered: the queue asked first (its `settled`).
    const p = stream.pending.get(id)!;
    stream.pending.delete(id);
    p.failed(new FloodgateError(status.DEADLINE_EXCEEDED, `no answer from Floodgate at ${this.address} within ${deadlineMs} ms`));
    if (stream.answeredAt < deadlineAt - deadlineMs) this.end(stream, FloodgateError.unavailable(`the check stream to ${this.address} answered nothing for ${deadlineMs} ms: replaced`));
    else this.idleSoon(stream);
    this.checkDrained();
  }

  /** After the last check in flight is answered: close the stream if nothing comes for IDLE_STREAM_MS. */
  private idleSoon(stream: OpenStream): void {
    if (stream.pending.size > 0 || stream.idleTimer) return;
    const wait = IDLE_STREAM_MS - (performance.now() - stream.checkedAt);
    stream.idleTimer = setTimeout(() => {
      stream.idleTimer = undefined;
      if (this.open !== stream || stream.pending.size > 0) return;
      // Nothing in flight, nothing unsent: cancelling loses nothing and ends the call at once.
      if (performance.now() - stream.checkedAt >= IDLE_STREAM_MS) this.end(stream, FloodgateError.unavailable('idle'));
      else this.idleSoon(stream);
    }, Math.max(1, Math.ceil(wait)));
    stream.idleTimer.unref();
  }

  /**
   * Sends the checks made since the last flush as one message: at the end of the turn they were
   * made in, or at once when they reach the server's limit per message.
   */
  private flush(stream: OpenStream): void {
    const bytes = stream.unsent.take();
    if (bytes) stream.call.write(bytes);
  }

  /** Half-closes the open stream: the checks made so far are still sent and answered. */
  private retire(): void {
    if (!this.open) return;
    this.flush(this.open);
    this.open.call.end();
    this.open = undefined;
  }

  /**
   * Sends what is unsent and half-closes, then tells `drained` once every check made so far is
   * settled (answered, failed, or past its deadline, so this comes within the longest deadline)
   * and cancels what streams are left, which hold nothing. No check may be made after this.
   */
  close(drained: () => void): void {
    this.retire();
    this.drained = drained;
    this.checkDrained();
  }

  private checkDrained(): void {
    if (!this.drained) return;
    for (const stream of this.streams) if (stream.pending.size > 0) return;
    const drained = this.drained;
    this.drained = undefined;
    for (const stream of this.streams) this.end(stream, FloodgateError.unavailable('the client is closed'));
    drained();
  }

  private start(): OpenStream {
    const call = this.channel.makeBidiStreamRequest(METHOD.path, (b: Buffer) => b, (b: Buffer) => decodeMessage(CheckLimitStreamResponse, b), new Metadata());
    const stream: OpenStream = {
      call,
      pending: new CheckTable(),
      deadlines: new Map(),
      unsent: new MessageRun(),
      openedAt: performance.now(),
      checkedAt: 0,
      answeredAt: 0,
      idleTimer: undefined,
    };
    this.streams.add(stream);
    call.on('data', ({ decisions }: CheckLimitStreamResponse) => {
      stream.answeredAt = performance.now();
      for (const answer of decisions) {
        const p = stream.pending.get(answer.id);
        if (!p) continue; // its deadline passed
        stream.pending.delete(answer.id);
        if (answer.response) p.done(answer.response);
        else p.failed(FloodgateError.fromItem(answer.error ?? { code: 'INTERNAL', message: 'no answer' }));
      }
      this.idleSoon(stream);
      this.checkDrained();
    });
    // Every ending, with or without an error, comes as a status; 'error' only repeats a bad one.
    call.on('error', () => {});
    call.on('status', (s: StatusObject) => {
      if (s.code === status.UNIMPLEMENTED) this.supported = false;
      this.end(stream, s.code === status.OK ? FloodgateError.unavailable(`the check stream to ${this.address} ended`) : FloodgateError.from(s));
    });
    return stream;
  }

  /** Fails the stream's checks in flight and forgets the stream; the next check opens another. */
  private end(stream: OpenStream, error: FloodgateError): void {
    if (this.open === stream) this.open = undefined;
    this.streams.delete(stream);
    const { pending } = stream;
    stream.pending = new CheckTable();
    for (const queue of stream.deadlines.values()) queue.clear();
    clearTimeout(stream.idleTimer);
    pending.forEach((p) => p.failed(error));
    stream.unsent.clear();
    stream.call.cancel();
    this.checkDrained();
  }

  private freeId(stream: OpenStream): number {
    do this.nextId = (this.nextId + 1) >>> 0;
    while (!stream.pending.free(this.nextId));
    return this.nextId;
  }
}
