import { status, type ServiceError } from '@grpc/grpc-js';

/** gRPC status code names, as they appear in error bodies ("INVALID_ARGUMENT"). */
export type ErrorCodeName = keyof typeof status;

const HTTP_BY_CODE: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.FAILED_PRECONDITION]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.UNIMPLEMENTED]: 501,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 503,
};

/** The standard error body of every Floodgate HTTP surface. */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

/** Codes whose messages start with the request field at fault, as `user_id: …` or `checks[2].cost: …`. */
const FIELD_CODES: ReadonlySet<status> = new Set([status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.NOT_FOUND, status.FAILED_PRECONDITION]);
const FIELD_PREFIX = /^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z][a-z0-9_]*(?:\[\d+\])?)*): /;

/** The field a server's message names first (`user_id: …`), so `field` is set whichever side refused it. */
function fieldOf(code: status, message: string): string | undefined {
  return FIELD_CODES.has(code) ? FIELD_PREFIX.exec(message)?.[1] : undefined;
}

/**
 * The one error type of Floodgate: carries a gRPC status code, maps to an HTTP status and to
 * the standard error body. Servers throw it; clients receive it.
 */
export class FloodgateError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FloodgateError';
  }

  static invalid(field: string, problem: string): FloodgateError {
    return new FloodgateError(status.INVALID_ARGUMENT, `${field}: ${problem}`, field);
  }

  static notFound(message: string, field?: string): FloodgateError {
    return new FloodgateError(status.NOT_FOUND, message, field);
  }

  static unavailable(message: string): FloodgateError {
    return new FloodgateError(status.UNAVAILABLE, message);
  }

  /** Wraps an error from a gRPC call (or anything thrown) without losing its code. */
  static from(err: unknown): FloodgateError {
    if (err instanceof FloodgateError) return err;
    const e = err as Partial<ServiceError> | undefined;
    if (e && typeof e.code === 'number' && e.code in status) {
      const details = e.details || e.message || status[e.code];
      // grpc-js's words for a channel that never connected ("…Last error: null. Resolution note: ").
      if (/^No connection established/.test(details)) return new FloodgateError(e.code, 'Floodgate is not reachable: no connection could be established');
      return new FloodgateError(e.code, details, fieldOf(e.code, details));
    }
    return new FloodgateError(status.INTERNAL, err instanceof Error ? err.message : String(err));
  }

  /** A batch item's or a streamed check's error (`{ code: "NOT_FOUND", message }`) as a FloodgateError. */
  static fromItem(item: { code: string; message: string }): FloodgateError {
    const named = (status as unknown as Record<string, status | undefined>)[item.code];
    const code = typeof named === 'number' ? named : status.INTERNAL;
    return new FloodgateError(code, item.message, fieldOf(code, item.message));
  }

  get codeName(): string {
    return status[this.code] ?? 'UNKNOWN';
  }

  get httpStatus(): number {
    return HTTP_BY_CODE[this.code] ?? 500;
  }

  toBody(requestId: string): ErrorBody {
    return { error: { code: this.codeName, message: this.message, requestId } };
  }
}
