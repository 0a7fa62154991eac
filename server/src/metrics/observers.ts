/**
 * What the limiter, the gRPC server and the stores report, and what the metrics read from the
 * parts that keep state, as small interfaces so none of them imports the metrics library;
 * main.ts connects them to the one Metrics object.
 */
import type { Reason } from '@floodgate/client';
import type { FailureMode } from '../policy/policy.js';

export interface DecisionObserver {
  /** One answered check: its policy, its reason and whether it was let through. */
  decision(policy: string, reason: Reason, allowed: boolean): void;
  /** `checks` refused UNAVAILABLE, as too many were in flight. */
  shed(checks: number): void;
}

export interface RpcObserver {
  /** One finished RPC: method path (`/package.Service/Method`), gRPC status code, duration in seconds. */
  rpc(path: string, code: number, seconds: number): void;
}

export interface RedisObserver {
  /** One Redis command or script call and whether it failed. */
  redisCommand(command: string, seconds: number, failed: boolean): void;
}

export interface FallbackObserver {
  /** `keys` rate-limit keys decided by their policy's failure mode because Redis did not answer. */
  fallback(failureMode: FailureMode, keys: number): void;
}

export const noDecisions: DecisionObserver = { decision: () => {}, shed: () => {} };

/** Whether the store is unreachable (policies in their failure mode) and the tracking buffer. */
export interface OutageSource {
  degraded(): boolean;
  trackingBuffer?: { readonly size: number; readonly dropped: number };
}

/** The limiter's checks taken and not yet answered. */
export interface InFlightSource {
  readonly checksInFlight: number;
}

/** Hits and size of the limiter's in-process deny cache. */
export interface DenyCacheSource {
  readonly hits: number;
  readonly size: number;
}

/** Reload counts kept by a reloading policy source. */
export interface PolicyReloadSource {
  readonly reloads: number;
  readonly reloadFailures: number;
}
