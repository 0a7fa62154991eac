import { BinaryWriter } from '@bufbuild/protobuf/wire';

const UINT32_MAX = 0xffffffff;

/**
 * protobuf-es writes every uint64 through a BigInt; a value that fits 32 bits has the same varint
 * bytes as a uint32, written without one (the durations in every LimitStatus).
 */
class NumberWriter extends BinaryWriter {
  override uint64(value: string | number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value <= UINT32_MAX && Number.isInteger(value)) return this.uint32(value);
    return super.uint64(value);
  }
}

/** A generated message type's encoder (ts-proto's `encode`). */
export interface Encoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/**
 * One writer for every message this process encodes through it: a writer per message costs its
 * buffer grown by doubling plus the copy it finishes with, and Buffer.from of that copy copies
 * once more. Encoding is synchronous, so no two messages share it at once.
 */
const writer = new NumberWriter();

/** The message's bytes; throws what its encoder throws (a value out of its field's range), leaving the writer clean. */
export function encodeMessage<T>(encoder: Encoder<T>, message: T): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = encoder.encode(message, writer).finish();
  } catch (err) {
    // finish() also resets what the failed encode left half-written.
    writer.finish();
    throw err;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
