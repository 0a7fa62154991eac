import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

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

  /**
   * protobuf-es's finish() leaves a new empty array for the positions of forks, which the next
   * message's first fork() grows to 17 slots: 152 bytes per message. The old one, emptied, is
   * put back instead.
   */
  override finish(): Uint8Array<ArrayBuffer> {
    const state = this as unknown as WriterState;
    const stack = state.stackPos;
    const bytes = super.finish();
    if (Array.isArray(stack)) {
      stack.length = 0;
      state.stackPos = stack;
    }
    return bytes;
  }

  /**
   * Copies what has been written into `run` and resets, as finish() does but without the copy
   * finish() makes first (an ArrayBuffer per message). A protobuf-es that keeps its bytes
   * elsewhere takes finish().
   */
  finishInto(run: MessageRun): void {
    const state = this as unknown as WriterState;
    const { buffer, pos, stackPos } = state;
    if (!(buffer instanceof Uint8Array) || typeof pos !== 'number' || !Array.isArray(stackPos) || stackPos.length > 0) {
      run.push(this.finish());
      return;
    }
    run.push(buffer, pos);
    state.pos = 0;
  }
}

/** What the writer keeps between calls (not in protobuf-es's typings). */
interface WriterState {
  buffer: unknown;
  pos: unknown;
  stackPos: unknown;
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

/** Encodes into the shared writer; throws what the encoder throws (a value out of its field's range), leaving the writer clean. */
function encodeIntoWriter<T>(encoder: Encoder<T>, message: T): void {
  try {
    encoder.encode(message, writer);
  } catch (err) {
    // finish() also resets what the failed encode left half-written.
    writer.finish();
    throw err;
  }
}

/** The message's bytes; throws as encodeIntoWriter does. */
export function encodeMessage<T>(encoder: Encoder<T>, message: T): Buffer {
  encodeIntoWriter(encoder, message);
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A chunk's size: the checks of many turns at high rates. */
const RUN_CHUNK_BYTES = 64 * 1024;

/**
 * Messages encoded back to back, for a sender that joins them into one write (a repeated field's
 * records simply follow one another on the wire, so messages of one record each, joined, are the
 * message of them all). They go into chunks that are never written over: what take() hands out
 * is a view of a chunk that stays as it is for as long as the transport holds it. Against a
 * Buffer per message joined by Buffer.concat: no ArrayBuffer, view or copy per message.
 */
export class MessageRun {
  private chunk = Buffer.allocUnsafeSlow(0);
  private from = 0;
  private to = 0;
  /** Messages appended since the last take. */
  messages = 0;

  /** Encodes `message` after the others; throws what its encoder throws, appending nothing. */
  append<T>(encoder: Encoder<T>, message: T): void {
    encodeIntoWriter(encoder, message);
    writer.finishInto(this);
    this.messages++;
  }

  /** Appends the first `length` bytes of `bytes` (all of them when not given). */
  push(bytes: Uint8Array, length = bytes.length): void {
    if (this.to + length > this.chunk.length) {
      // A new chunk, with what is not yet taken moved to its start; the old one is left to the views taken from it.
      const held = this.to - this.from;
      const next = Buffer.allocUnsafeSlow(Math.max(RUN_CHUNK_BYTES, 2 * (held + length)));
      this.chunk.copy(next, 0, this.from, this.to);
      this.chunk = next;
      this.from = 0;
      this.to = held;
    }
    const { chunk, to } = this;
    // A byte loop: a check is tens of bytes, and a subarray for set() would be an object per message.
    for (let i = 0; i < length; i++) chunk[to + i] = bytes[i]!;
    this.to += length;
  }

  /** The bytes appended since the last take, or undefined when none were. */
  take(): Buffer | undefined {
    if (this.to === this.from) return undefined;
    const bytes = this.chunk.subarray(this.from, this.to);
    this.clear();
    return bytes;
  }

  /** Drops what has not been taken. */
  clear(): void {
    this.from = this.to;
    this.messages = 0;
  }
}

/** A varint of up to 7 bytes holds at most 49 bits: exact as a double, summed without a BigInt. */
const NUMBER_VARINT_BYTES = 7;

/** What the reader's constructor keeps and uint64() reads on from (not in protobuf-es's typings). */
interface ReaderState {
  buf: unknown;
  pos: unknown;
}

/**
 * protobuf-es reads every uint64 into a BigInt, and ts-proto's number fields turn that into a
 * string and the string into a number: three allocations per value, three uint64 per
 * LimitStatus. A value under 2^49 (any duration or count here) is summed straight from its
 * varint instead; ts-proto's conversion of the number is then a cached number-to-string. Longer
 * varints, a truncated one, or a protobuf-es that keeps its position elsewhere take protobuf-es's
 * own path, so values and errors are its own.
 */
class NumberReader extends BinaryReader {
  /**
   * A short ASCII string the same as one read lately is that one: a policy name in every check
   * and answer, a busy user's id. It costs no new string (nor protobuf-es's array of its
   * characters), and a Map lookup by it uses the hash V8 keeps in the string. Strings are
   * matched byte by byte, so a collision of their hashes only means a miss.
   */
  override string(strict?: boolean): string {
    const state = this as unknown as ReaderState;
    const { buf, pos } = state;
    if (!(buf instanceof Uint8Array) || typeof pos !== 'number') return super.string(strict);
    // Under 128 bytes the length is a varint of one byte.
    const len = buf[pos];
    const start = pos + 1;
    if (len === undefined || len > RECENT_STRING_BYTES || start + len > buf.length) return super.string(strict);
    let hash = len;
    for (let i = start; i < start + len; i++) {
      const byte = buf[i]!;
      if (byte > 0x7f) return super.string(strict);
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    const slot = hash >>> (32 - RECENT_STRING_SLOT_BITS);
    const recent = recentStrings[slot]!;
    if (recent.length === len && sameAscii(recent, buf, start)) {
      state.pos = start + len;
      return recent;
    }
    const read = super.string(strict);
    recentStrings[slot] = read;
    return read;
  }

  override uint64(): bigint | string {
    const state = this as unknown as ReaderState;
    const { buf, pos } = state;
    if (!(buf instanceof Uint8Array) || typeof pos !== 'number') return super.uint64();
    const end = Math.min(buf.length, pos + NUMBER_VARINT_BYTES);
    let value = 0;
    for (let at = pos, scale = 1; at < end; scale *= 128) {
      const byte = buf[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        state.pos = at;
        // ts-proto reads the field with longToNumber(), which takes anything with toString().
        return value as unknown as bigint;
      }
    }
    return super.uint64();
  }
}

/** Strings NumberReader keeps: up to this many bytes, in 2^RECENT_STRING_SLOT_BITS slots by hash. */
const RECENT_STRING_BYTES = 64;
const RECENT_STRING_SLOT_BITS = 10;
const recentStrings = new Array<string>(2 ** RECENT_STRING_SLOT_BITS).fill('');

function sameAscii(s: string, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[at + i]) return false;
  return true;
}

/** A generated message type's decoder (ts-proto's `decode`). */
export interface Decoder<T> {
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/** The message in `bytes`; throws what its decoder throws. */
export function decodeMessage<T>(decoder: Decoder<T>, bytes: Uint8Array): T {
  return decoder.decode(new NumberReader(bytes));
}
