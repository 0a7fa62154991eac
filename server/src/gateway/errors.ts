import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import type { FastifyError } from 'fastify';

/** An error as the gateway answers it: the standard body's error and the HTTP status. */
export interface HttpError {
  error: FloodgateError;
  httpStatus: number;
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Maps anything a route or fastify throws to the standard error. FloodgateErrors keep their
 * code; fastify's own client errors (bad JSON, wrong types, unknown fields, oversized bodies,
 * wrong content type) become INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field or part.
 */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof FloodgateError) return { error: httpNamed(err), httpStatus: err.httpStatus };
  const e = err as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string };
  if (e.validation?.length) {
    const error = validationError(e.validation[0]!, e.validationContext ?? 'body');
    return { error, httpStatus: error.httpStatus };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: new FloodgateError(status.RESOURCE_EXHAUSTED, `body: ${e.message}`, 'body'), httpStatus: 413 };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { error: FloodgateError.invalid('content-type', 'must be application/json'), httpStatus: 415 };
    case 'FST_ERR_BAD_URL':
      return { error: FloodgateError.invalid('path', 'is not valid percent-encoded UTF-8'), httpStatus: 400 };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { error: FloodgateError.invalid('path', 'has a segment too long'), httpStatus: 414 };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Malformed JSON, an empty JSON body, a bad content length and the like: all the body's fault.
    const error = FloodgateError.invalid('body', e.message ?? 'is not valid');
    return { error, httpStatus: error.httpStatus };
  }
  const error = new FloodgateError(status.INTERNAL, 'internal error');
  return { error, httpStatus: error.httpStatus };
}

/**
 * The answer to a request node's HTTP parser refused before the gateway saw it (headers or URL
 * too large, malformed HTTP), as raw bytes: still the standard body, with its own request id.
 */
export function clientErrorResponse(parserCode: string | undefined, requestId: string): string {
  const [httpStatus, reason, error] =
    parserCode === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', new FloodgateError(status.RESOURCE_EXHAUSTED, 'headers: the request line and headers are too large', 'headers')]
      : parserCode === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', new FloodgateError(status.DEADLINE_EXCEEDED, 'request: not received in time')]
        : [400, 'Bad Request', FloodgateError.invalid('request', 'is not valid HTTP')];
  const body = JSON.stringify(error.toBody(requestId));
  return [
    `HTTP/1.1 ${httpStatus} ${reason}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

/** The first schema violation as a message naming the field ("reason: must be string"). */
function validationError(issue: ValidationIssue, part: string): FloodgateError {
  const path = issue.instancePath.split('/').filter(Boolean).join('.');
  switch (issue.keyword) {
    case 'required':
      return FloodgateError.invalid(join(path, String(issue.params.missingProperty)), 'is required');
    case 'additionalProperties':
      return FloodgateError.invalid(join(path, String(issue.params.additionalProperty)), 'is not a known field');
    default:
      return FloodgateError.invalid(path || (part === 'querystring' ? 'query' : part), issue.message ?? 'is not valid');
  }
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** The gRPC field names the server's errors may start with, as the gateway's requests name them. */
const HTTP_NAMES: Readonly<Record<string, string>> = {
  user_id: 'userId',
  page_size: 'pageSize',
  page_token: 'pageToken',
  suspended_only: 'suspendedOnly',
  duration_ms: 'duration',
};

/** A server error that names a field by its gRPC name (its `field`), renamed as the HTTP request has it. */
function httpNamed(err: FloodgateError): FloodgateError {
  const httpName = err.field === undefined ? undefined : HTTP_NAMES[err.field];
  return httpName ? new FloodgateError(err.code, `${httpName}${err.message.slice(err.field!.length)}`, httpName) : err;
}
