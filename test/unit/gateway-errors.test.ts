import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { httpErrorOf } from '../../server/src/gateway/errors.js';

describe('httpErrorOf', () => {
  it('keeps a FloodgateError and its mapped HTTP status', () => {
    for (const [code, http] of [
      [status.INVALID_ARGUMENT, 400],
      [status.UNAUTHENTICATED, 401],
      [status.PERMISSION_DENIED, 403],
      [status.NOT_FOUND, 404],
      [status.RESOURCE_EXHAUSTED, 429],
      [status.UNIMPLEMENTED, 501],
      [status.UNAVAILABLE, 503],
      [status.INTERNAL, 500],
    ] as const) {
      const e = new FloodgateError(code, 'x');
      expect(httpErrorOf(e)).toEqual({ error: e, httpStatus: http });
    }
  });

  it("names a field of the server's error as the HTTP request names it", () => {
    const e = httpErrorOf(FloodgateError.invalid('page_token', 'is not a token from a previous response')).error;
    expect([e.message, e.field, e.httpStatus]).toEqual(['pageToken: is not a token from a previous response', 'pageToken', 400]);
    expect(httpErrorOf(FloodgateError.invalid('reason', 'is required when suspending')).error.message).toBe('reason: is required when suspending');
  });

  it('names the field of a schema violation', () => {
    const of = (issue: object, part = 'body') => httpErrorOf({ validation: [issue], validationContext: part }).error.message;
    expect(of({ keyword: 'required', instancePath: '', params: { missingProperty: 'suspended' } })).toBe('suspended: is required');
    expect(of({ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'x' } })).toBe('x: is not a known field');
    expect(of({ keyword: 'type', instancePath: '/reason', params: {}, message: 'must be string' })).toBe('reason: must be string');
    expect(of({ keyword: 'type', instancePath: '', params: {}, message: 'must be object' })).toBe('body: must be object');
    expect(of({ keyword: 'type', instancePath: '', params: {}, message: 'must be object' }, 'querystring')).toBe('query: must be object');
  });

  it('turns fastify client errors into 400, 413 and 415 and anything else into a 500 that hides the cause', () => {
    expect(httpErrorOf({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'too large' })).toMatchObject({
      httpStatus: 413,
      error: { codeName: 'RESOURCE_EXHAUSTED' },
    });
    expect(httpErrorOf({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'x' }).httpStatus).toBe(415);
    expect(httpErrorOf({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, message: 'bad json' })).toMatchObject({
      httpStatus: 400,
      error: { message: 'body: bad json' },
    });
    const internal = httpErrorOf(new TypeError('secret detail'));
    expect(internal.httpStatus).toBe(500);
    expect(internal.error.codeName).toBe('INTERNAL');
    expect(internal.error.message).not.toContain('secret');
  });
});
