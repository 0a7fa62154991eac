import { parseHostPort } from './address.js';
import { FloodgateError } from './errors.js';

/**
 * A gRPC target as `host:port`: a name, an IPv4 address or a bracketed IPv6 address, and a port
 * from 1 to 65535. grpc-js takes a target without a port as port 443, which is never a sidecar.
 */
export function checkAddress(address: unknown): void {
  try {
    if (typeof address !== 'string') throw new Error('expected a string');
    parseHostPort(address);
  } catch {
    throw FloodgateError.invalid('address', `must be host:port with a port from 1 to 65535, got ${JSON.stringify(address)}`);
  }
}

/** Rejects keys an options object does not know: a misspelt option would otherwise be ignored. */
export function checkKnownKeys(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw FloodgateError.invalid(`${prefix}${key}`, `unknown option (known: ${known.join(', ')})`);
  }
}

/** A request, or an options object: a plain object. */
export function checkObject(value: unknown, field: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw FloodgateError.invalid(field, 'must be an object');
}

/** The range of a numeric request field: its protobuf type's, narrowed where the server's rule is narrower. */
export interface NumberRange {
  min: number;
  max: number;
  /** Said after the range in the error, e.g. "leave it unset for 1". */
  note?: string;
}

export const UINT32: NumberRange = { min: 0, max: 0xffffffff };
export const UINT64: NumberRange = { min: 0, max: Number.MAX_SAFE_INTEGER };
export const INT64: NumberRange = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };

/**
 * A request field's name as the proto spells it (`pageSize` → `page_size`): the server names
 * fields so in its errors, and a field is named alike whichever side refuses it.
 */
export function protoName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Checks a request's numeric fields before it is encoded, so that a bad one is named
 * (`cost: …`, by its proto name) instead of surfacing as the encoder's "invalid uint32: -1". `prefix` names the
 * request within a batch (`checks[2].`).
 */
export function checkRequest(req: unknown, numbers: Readonly<Record<string, NumberRange>>, prefix = ''): void {
  checkObject(req, prefix ? prefix.slice(0, -1) : 'request');
  for (const field in numbers) {
    const value = (req as Record<string, unknown>)[field];
    if (value === undefined) continue;
    const { min, max, note } = numbers[field]!;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const got = typeof value === 'string' ? JSON.stringify(value) : ['number', 'bigint', 'boolean'].includes(typeof value) ? String(value) : `a ${typeof value}`;
      throw FloodgateError.invalid(`${prefix}${protoName(field)}`, `must be a whole number from ${min} to ${max}${note ? ` (${note})` : ''}, got ${got}`);
    }
  }
}
