/**
 * MessagePack arrays of numbers and strings: the single argument that carries every decision of
 * a script call, decoded in Redis by its built-in `cmsgpack.unpack`. Seven ARGV per decision
 * cost the client a string per value (and a rope of concatenations to write them) and Redis an
 * object per value; one packed buffer costs neither. Only what the scripts need is encoded.
 */

/** The most bytes a number takes packed. */
export const NUMBER_BYTES = 9;

/** The most bytes a string takes packed (a UTF-16 unit is at most 3 bytes of UTF-8). */
export function stringBytes(s: string): number {
  return 5 + 3 * s.length;
}

/** Packs an array of `count` values, written one by one, into one buffer of at most `bound` bytes of values. */
export class Packer {
  private readonly buf: Buffer;
  private at: number;

  constructor(count: number, bound: number) {
    this.buf = Buffer.allocUnsafe(5 + bound);
    this.at = arrayHeader(this.buf, count);
  }

  number(n: number): void {
    const buf = this.buf;
    let at = this.at;
    if (!Number.isSafeInteger(n) || n < 0) at = buf.writeDoubleBE(n, buf.writeUInt8(0xcb, at));
    else if (n < 0x80) at = buf.writeUInt8(n, at);
    else if (n < 0x100) at = buf.writeUInt8(n, buf.writeUInt8(0xcc, at));
    else if (n < 0x10000) at = buf.writeUInt16BE(n, buf.writeUInt8(0xcd, at));
    else if (n < TWO_32) at = buf.writeUInt32BE(n, buf.writeUInt8(0xce, at));
    else at = buf.writeUInt32BE(n % TWO_32, buf.writeUInt32BE(Math.floor(n / TWO_32), buf.writeUInt8(0xcf, at)));
    this.at = at;
  }

  string(s: string): void {
    const buf = this.buf;
    let at = this.at;
    const length = Buffer.byteLength(s);
    if (length < 32) at = buf.writeUInt8(0xa0 | length, at);
    else if (length < 0x100) at = buf.writeUInt8(length, buf.writeUInt8(0xd9, at));
    else if (length < 0x10000) at = buf.writeUInt16BE(length, buf.writeUInt8(0xda, at));
    else at = buf.writeUInt32BE(length, buf.writeUInt8(0xdb, at));
    this.at = at + buf.write(s, at);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** `values` as one MessagePack array. */
export function packArray(values: ReadonlyArray<number | string>): Buffer {
  let bound = 0;
  for (const v of values) bound += typeof v === 'number' ? NUMBER_BYTES : stringBytes(v);
  const packer = new Packer(values.length, bound);
  for (const v of values) {
    if (typeof v === 'number') packer.number(v);
    else packer.string(v);
  }
  return packer.finish();
}

function arrayHeader(buf: Buffer, n: number): number {
  if (n < 16) return buf.writeUInt8(0x90 | n, 0);
  if (n < 0x10000) return buf.writeUInt16BE(n, buf.writeUInt8(0xdc, 0));
  return buf.writeUInt32BE(n, buf.writeUInt8(0xdd, 0));
}

const TWO_32 = 2 ** 32;
