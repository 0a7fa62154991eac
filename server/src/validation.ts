import { FloodgateError } from '@floodgate/client';
import { normalizeIp } from './net/ip.js';

export const MAX_ID_BYTES = 256;
// C0 and C1 control characters, DEL, and U+FFFD: what invalid UTF-8 in a request decodes to, so
// that different byte strings would otherwise name the same subject. One test on the hot path.
const REFUSED = /[\u0000-\u001f\u007f-\u009f\ufffd]/;

/** An opaque id (user, session, activity): non-empty, bounded, printable, well-formed UTF-16. */
export function validId(field: string, value: string, maxBytes = MAX_ID_BYTES): string {
  if (value === '') throw FloodgateError.invalid(field, 'must not be empty');
  if (Buffer.byteLength(value, 'utf8') > maxBytes) throw FloodgateError.invalid(field, `must be at most ${maxBytes} bytes`);
  if (REFUSED.test(value)) {
    throw FloodgateError.invalid(field, value.includes('\ufffd') ? 'must be valid UTF-8 (U+FFFD, what invalid bytes decode to, is refused)' : 'must not contain control characters');
  }
  if (!value.isWellFormed()) throw FloodgateError.invalid(field, 'must be well-formed Unicode');
  return value;
}

export function validIp(field: string, value: string): string {
  if (value.length > 64) throw FloodgateError.invalid(field, 'is not an IP address');
  const ip = normalizeIp(value);
  if (!ip) throw FloodgateError.invalid(field, `"${value.slice(0, 64)}" is not an IPv4 or IPv6 address`);
  return ip;
}

export interface Subject {
  userId?: string;
  ip?: string;
}

/** A user id, an IP, or both; at least one. */
export function validSubject(userId: string, ip: string): Subject {
  if (userId === '' && ip === '') throw FloodgateError.invalid('user_id', 'user_id or ip is required');
  return {
    userId: userId === '' ? undefined : validId('user_id', userId),
    ip: ip === '' ? undefined : validIp('ip', ip),
  };
}
