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

  /** Stored byte by byte: Buffer's write methods check every value and offset, which cost more than the packing. */
  number(n: number): void {
    const buf = this.buf;
    let at = this.at;
    if (!Number.isSafeInteger(n) || n < 0) {
      buf[at] = 0xcb;
      at = buf.writeDoubleBE(n, at + 1);
    } else if (n < 0x80) {
      buf[at++] = n;
    } else if (n < 0x100) {
      buf[at++] = 0xcc;
      buf[at++] = n;
    } else if (n < 0x10000) {
      buf[at++] = 0xcd;
      buf[at++] = n >>> 8;
      buf[at++] = n & 0xff;
    } else if (n < TWO_32) {
      buf[at] = 0xce;
      at = uint32At(buf, at + 1, n);
    } else {
      buf[at] = 0xcf;
      at = uint32At(buf, uint32At(buf, at + 1, Math.floor(n / TWO_32)), n % TWO_32);
    }
    this.at = at;
  }

  string(s: string): void {
    const buf = this.buf;
    const at = this.at;
    // Short ASCII (a decision's member, most ids): copied here rather than by two calls into C++.
    if (s.length < 32) {
      buf[at] = 0xa0 | s.length;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[at + 1 + i] = c;
      }
      if (i === s.length) {
        this.at = at + 1 + i;
        return;
      }
    }
    const length = Buffer.byteLength(s);
    let from = at;
    if (length < 32) from = buf.writeUInt8(0xa0 | length, from);
    else if (length < 0x100) from = buf.writeUInt8(length, buf.writeUInt8(0xd9, from));
    else if (length < 0x10000) from = buf.writeUInt16BE(length, buf.writeUInt8(0xda, from));
    else from = buf.writeUInt32BE(length, buf.writeUInt8(0xdb, from));
    this.at = from + buf.write(s, from);
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

function uint32At(buf: Buffer, at: number, n: number): number {
  buf[at] = n >>> 24;
  buf[at + 1] = (n >>> 16) & 0xff;
  buf[at + 2] = (n >>> 8) & 0xff;
  buf[at + 3] = n & 0xff;
  return at + 4;
}
