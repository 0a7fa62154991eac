import type { Decision } from './decision.js';
import { Reason } from './gen/floodgate/v1/ratelimit.js';

/**
 * HTTP headers for a decision, per the IETF httpapi RateLimit header fields draft:
 * `RateLimit-Policy: "ai";q=20;w=60` (quota and window in seconds) and
 * `RateLimit: "ai";r=5;t=30` (remaining and seconds until the quota resets), both from the most
 * restrictive key; plus `Retry-After` in seconds on an over-limit deny. A suspension gets no
 * Retry-After: the limiter's timing says nothing about when it is lifted.
 * Decisions without a binding key (allowlisted, suspended, unreachable sidecar) yield no
 * RateLimit fields: there is no quota to describe.
 */
export function rateLimitHeaders(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = {};
  // toDecision already leaves a suspension without a binding key; a decision built by hand may not.
  const b = decision.reason === Reason.REASON_SUSPENDED ? undefined : decision.binding;
  if (b) {
    const name = sfString(decision.policy);
    headers['RateLimit-Policy'] = `${name};q=${b.limit};w=${seconds(b.windowMs)}`;
    headers['RateLimit'] = `${name};r=${b.remaining};t=${seconds(b.resetAfterMs)}`;
  }
  if (decision.retryAfterMs > 0) {
    headers['Retry-After'] = String(Math.max(1, seconds(decision.retryAfterMs)));
  }
  return headers;
}

/** Whole seconds, rounded up so a client never comes back too early. */
function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** An RFC 8941 sf-string: printable ASCII with `"` and `\` escaped; anything else becomes `?`. */
export function sfString(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}
