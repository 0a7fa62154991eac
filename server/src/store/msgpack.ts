/**
 * One MessagePack array of numbers and strings: the single argument that carries every decision
 * of a script call, decoded in Redis by its built-in `cmsgpack.unpack`. Seven ARGV per decision
 * cost the client a string per value (and a rope of concatenations to write them) and Redis an
 * object per value; one packed buffer costs neither. Only what the scripts need is encoded.
 */
export function packArray(values: ReadonlyArray<number | string>): Buffer {
  let bound = 5;
  for (const v of values) bound += typeof v === 'number' ? 9 : 5 + 3 * v.length;
  const buf = Buffer.allocUnsafe(bound);
  let at = arrayHeader(buf, values.length);
  for (const v of values) at = typeof v === 'number' ? packNumber(buf, at, v) : packString(buf, at, v);
  return buf.subarray(0, at);
}

function arrayHeader(buf: Buffer, n: number): number {
  if (n < 16) return buf.writeUInt8(0x90 | n, 0);
  if (n < 0x10000) return buf.writeUInt16BE(n, buf.writeUInt8(0xdc, 0));
  return buf.writeUInt32BE(n, buf.writeUInt8(0xdd, 0));
}

const TWO_32 = 2 ** 32;

function packNumber(buf: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return buf.writeDoubleBE(n, buf.writeUInt8(0xcb, at));
  if (n < 0x80) return buf.writeUInt8(n, at);
  if (n < 0x100) return buf.writeUInt8(n, buf.writeUInt8(0xcc, at));
  if (n < 0x10000) return buf.writeUInt16BE(n, buf.writeUInt8(0xcd, at));
  if (n < TWO_32) return buf.writeUInt32BE(n, buf.writeUInt8(0xce, at));
  at = buf.writeUInt8(0xcf, at);
  return buf.writeUInt32BE(n % TWO_32, buf.writeUInt32BE(Math.floor(n / TWO_32), at));
}

function packString(buf: Buffer, at: number, s: string): number {
  const length = Buffer.byteLength(s);
  if (length < 32) at = buf.writeUInt8(0xa0 | length, at);
  else if (length < 0x100) at = buf.writeUInt8(length, buf.writeUInt8(0xd9, at));
  else if (length < 0x10000) at = buf.writeUInt16BE(length, buf.writeUInt8(0xda, at));
  else at = buf.writeUInt32BE(length, buf.writeUInt8(0xdb, at));
  return at + buf.write(s, at);
}
