import { CheckLimitRequest, CheckLimitsRequest, RecordActivityRequest, type DeepPartial } from '@floodgate/client';

/**
 * A gRPC unary request body as it goes on the wire (what h2load posts): a 1-byte compressed
 * flag (0), the message length as 4 bytes big-endian, then the protobuf message.
 */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Inverse of grpcFrame for one uncompressed message; throws on anything else. */
export function grpcUnframe(frame: Uint8Array): Uint8Array {
  const buf = Buffer.from(frame);
  if (buf.length < 5 || buf[0] !== 0) throw new Error('not an uncompressed gRPC frame');
  const length = buf.readUInt32BE(1);
  if (buf.length !== 5 + length) throw new Error(`frame says ${length} bytes, holds ${buf.length - 5}`);
  return buf.subarray(5);
}

/** grpc.health.v1.HealthCheckRequest{service: ""}: the empty message. */
export const healthCheckBody = (): Buffer => grpcFrame(new Uint8Array(0));

/** grpc.health.v1.HealthCheckResponse{status: SERVING}: field 1, varint 1. */
export const healthServingReply = (): Buffer => grpcFrame(Uint8Array.from([8, 1]));

export const checkLimitBody = (req: DeepPartial<CheckLimitRequest>): Buffer =>
  grpcFrame(CheckLimitRequest.encode(CheckLimitRequest.fromPartial(req)).finish());

/** One CheckLimits call holding `n` checks of `policy` by `n` different users. */
export const checkLimitsBody = (n: number, policy: string, userPrefix: string): Buffer =>
  grpcFrame(
    CheckLimitsRequest.encode(
      CheckLimitsRequest.fromPartial({ checks: Array.from({ length: n }, (_, i) => ({ policy, userId: `${userPrefix}${i}` })) }),
    ).finish(),
  );

export const recordActivityBody = (req: DeepPartial<RecordActivityRequest>): Buffer =>
  grpcFrame(RecordActivityRequest.encode(RecordActivityRequest.fromPartial(req)).finish());
