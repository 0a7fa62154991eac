import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import type { Algorithm, LimitArgs, LimitOutcome, Mode } from '../limiter/algorithm.js';
import type { FailureMode } from '../policy/policy.js';
import { promised, type Sink } from '../sink.js';

export type StoreKind = 'memory' | 'single' | 'sentinel' | 'cluster';

/** One atomic rate-limit step on one key. */
export interface LimitCall {
  algorithm: Algorithm<any>;
  key: string;
  /** Denies (blocked) before counting when this key exists. */
  blockKey: string;
  args: LimitArgs;
  mode: Mode;
  /** What decides this call while the shared store is unreachable (the policy's failure_mode). */
  failureMode: FailureMode;
}

/** An outcome; `degraded` says it was decided without the shared store, and by which failure mode. */
export type StoreOutcome = LimitOutcome & { degraded?: FailureMode };

/** Told the outcomes of a store call, never before the call has returned. */
export type OutcomeSink = Sink<StoreOutcome[]>;

/**
 * Shared state behind the limiter. Each call of `limit` is atomic per key; a batch is sent
 * together (one round trip per Redis node), not one call after another.
 */
export interface Store {
  readonly kind: StoreKind;
  limit(calls: readonly LimitCall[], now: number, sink: OutcomeSink): void;
  /** Round-trip time in ms; throws when the store is unreachable. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

/** A store's limit() as a promise. */
export function limitOf(store: Store, calls: readonly LimitCall[], now: number): Promise<StoreOutcome[]> {
  return promised((sink) => store.limit(calls, now, sink));
}

/** The store could not be reached (how every store reports it); anything else is a bug. */
export function isUnavailable(err: unknown): boolean {
  return err instanceof FloodgateError && err.code === status.UNAVAILABLE;
}

/**
 * A Cluster slot being moved between masters, as an error reaches the store: Redis's refusal of a
 * multi-key command there (TRYAGAIN: a subject's block key seldom exists, so that is every script
 * of the slot until the move ends), or a redirection (MOVED, ASK) that ioredis did not follow or
 * used up its retries on. Redis as a whole is reachable meanwhile.
 */
export const SLOT_MOVING = /\bTRYAGAIN\b|\b(MOVED|ASK) \d+ /;

