import type { FloodgateError } from './errors.js';
import { Reason, type CheckLimitResponse, type LimitStatus } from './gen/floodgate/v1/ratelimit.js';

/** What the client does when Floodgate cannot answer in time. */
export type UnavailableMode = 'allow' | 'deny' | 'throw';

/**
 * A CheckLimit answer plus what an HTTP response needs. `binding`, `limit`, `remaining`,
 * `windowMs` and `resetAfterMs` come from the most restrictive key checked; they are undefined
 * when no key was counted (allowlisted IP, unreachable sidecar) and for a suspended user, even
 * when the server's `statuses` list keys (a suspension has no quota to describe).
 */
export interface Decision extends CheckLimitResponse {
  /** Floodgate could not be reached within the deadline; `allowed` follows `onUnavailable`. */
  unavailable: boolean;
  /** Answered from the local deny cache, without an RPC. */
  cached: boolean;
  /** The failure behind an unavailable decision. */
  error: FloodgateError | undefined;
  /** The status that decided: on deny the one to wait longest for, else the one with least room. */
  binding: LimitStatus | undefined;
  limit: number | undefined;
  remaining: number | undefined;
  windowMs: number | undefined;
  resetAfterMs: number | undefined;
  /** On an over-limit deny, ms until a request of this cost could pass; else 0. */
  retryAfterMs: number;
}

/** The most restrictive key: the denied one with the longest wait, else the least remaining. */
export function bindingStatus(statuses: readonly LimitStatus[]): LimitStatus | undefined {
  let best: LimitStatus | undefined;
  for (const s of statuses) {
    if (!best) best = s;
    else if (s.allowed !== best.allowed) best = s.allowed ? best : s;
    else if (!s.allowed) best = s.retryAfterMs > best.retryAfterMs ? s : best;
    else if (s.remaining !== best.remaining) best = s.remaining < best.remaining ? s : best;
    else best = s.resetAfterMs > best.resetAfterMs ? s : best;
  }
  return best;
}

export function toDecision(res: CheckLimitResponse, extra: { cached?: boolean } = {}): Decision {
  // A suspension is not a quota: whether the server counted keys before it saw the suspension
  // (statuses present) or not (none), the decision describes no limit, so headers give no
  // RateLimit fields and no `t` that would tell a client to retry at once.
  const binding = res.reason === Reason.REASON_SUSPENDED ? undefined : bindingStatus(res.statuses);
  // Every field named, not `...res`: V8's optimized object spread gave each decision a hidden
  // class of its own, allocated in the old generation (3.5 KB per call at 3,000 calls/s).
  return {
    allowed: res.allowed,
    reason: res.reason,
    statuses: res.statuses,
    policy: res.policy,
    degraded: res.degraded,
    shadow: res.shadow,
    wouldAllow: res.wouldAllow,
    unavailable: false,
    cached: extra.cached ?? false,
    error: undefined,
    binding,
    limit: binding?.limit,
    remaining: binding?.remaining,
    windowMs: binding?.windowMs,
    resetAfterMs: binding?.resetAfterMs,
    // Only an over-limit deny has a wait the limiter knows; a suspension ends when an admin says.
    retryAfterMs: !res.allowed && res.reason === Reason.REASON_OVER_LIMIT ? (binding?.retryAfterMs ?? 0) : 0,
  };
}

/** The decision the client makes on its own when Floodgate is unreachable. */
export function unavailableDecision(policy: string, mode: 'allow' | 'deny', error: FloodgateError): Decision {
  const allowed = mode === 'allow';
  return {
    ...toDecision({
      allowed,
      reason: allowed ? Reason.REASON_DEGRADED_ALLOW : Reason.REASON_DEGRADED_DENY,
      statuses: [],
      policy,
      degraded: true,
      shadow: false,
      wouldAllow: allowed,
    }),
    unavailable: true,
    error,
  };
}

/** A cached deny as it stands `elapsedMs` after it was made: the waits shrink, nothing else. */
export function agedDecision(d: Decision, elapsedMs: number): Decision {
  const age = (ms: number) => Math.max(0, ms - elapsedMs);
  return toDecision(
    { ...d, statuses: d.statuses.map((s) => ({ ...s, resetAfterMs: age(s.resetAfterMs), retryAfterMs: age(s.retryAfterMs) })) },
    { cached: true },
  );
}
