import { FloodgateError } from '@floodgate/client';

/**
 * What a suspension may hold, checked by the admin service for gRPC and the gateway alike, so that
 * the same request is accepted or refused the same way through either.
 */
export const MAX_REASON_BYTES = 512;
/** Ten years: longer is a typo, and "until lifted" is how to say forever. */
export const MAX_SUSPENSION_DAYS = 3650;
export const MAX_SUSPENSION_MS = MAX_SUSPENSION_DAYS * 86_400_000;

/** The reason of a suspension: required (an audit trail of why), at most MAX_REASON_BYTES of UTF-8. */
export function suspensionReason(reason: string): string {
  if (reason.trim() === '') throw FloodgateError.invalid('reason', 'is required when suspending');
  if (Buffer.byteLength(reason) > MAX_REASON_BYTES) throw FloodgateError.invalid('reason', `must be at most ${MAX_REASON_BYTES} bytes of UTF-8`);
  return reason;
}
