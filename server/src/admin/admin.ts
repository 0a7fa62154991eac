import {
  FloodgateError,
  type ConcurrencyPeak,
  type GetStatisticsResponse,
  type GetStoreStatusResponse,
  type GetUserDetailRequest,
  type GetUserDetailResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type ResetRateLimitsRequest,
  type ResetRateLimitsResponse,
  type ResetTrackingRequest,
  type ResetTrackingResponse,
  type SetSuspensionRequest,
  type SetSuspensionResponse,
  type UserSummary as UserSummaryProto,
} from '@floodgate/client';
import type { Clock } from '../clock.js';
import { ALGORITHM_IMPLS } from '../limiter/algorithms.js';
import type { RateLimiter } from '../limiter/rate-limiter.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { KeySpace } from '../store/keys.js';
import type { ActivityBuffer } from '../tracking/activity-buffer.js';
import { counts, suspensionProto, type Tracker } from '../tracking/tracker.js';
import {
  DAY_MS,
  HOUR_MS,
  RETENTION_MS,
  byRecency,
  floorTo,
  isAfter,
  lastDates,
  type Cursor,
  type Peak,
  type TrackingStore,
  type UserSummary,
} from '../tracking/tracking-store.js';
import { validId, validSubject } from '../validation.js';
import type { StoreAdmin } from './store-admin.js';
import { MAX_SUSPENSION_MS, suspensionReason } from './suspension-rules.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
const TOP_USERS = 10;

export interface AdminDeps {
  tracker: Tracker;
  tracking: TrackingStore;
  limiter: RateLimiter;
  policies: PolicySource;
  keys: KeySpace;
  store: StoreAdmin;
  clock: Clock;
  /** Redis unreachable: rate limits are decided by the failure modes. */
  degraded?: () => boolean;
  trackingBuffer?: Pick<ActivityBuffer, 'size' | 'dropped'>;
}

/** Operator actions on users, limits and the store (authentication is the transport's job). */
export class Admin {
  constructor(private readonly deps: AdminDeps) {}

  async listUsers(req: ListUsersRequest): Promise<ListUsersResponse> {
    const size = pageSize(req.pageSize);
    const after = req.pageToken === '' ? undefined : decodeToken(req.pageToken);
    const now = this.deps.clock.now();
    const { tracking } = this.deps;
    const suspended = new Set(await tracking.suspendedUsers(now));
    let page: Cursor[];
    let total: number;
    if (req.suspendedOnly) {
      // The suspended set is small; order it by activity like the full list.
      const ids = [...suspended];
      const summaries = await tracking.summaries(ids, now);
      page = ids
        .map((userId, i) => ({ userId, last: summaries[i]?.last ?? 0 }))
        .filter((c) => isAfter(c, after))
        .sort(byRecency)
        .slice(0, size + 1);
      total = ids.length;
    } else {
      [page, total] = await Promise.all([tracking.recentUsers(after, size + 1, now - RETENTION_MS), tracking.countActive(now - RETENTION_MS)]);
    }
    const more = page.length > size;
    page = page.slice(0, size);
    const summaries = await tracking.summaries(
      page.map((c) => c.userId),
      now,
    );
    return {
      users: page.map((c, i) => summaryProto(summaries[i] ?? emptySummary(c.userId), suspended.has(c.userId))),
      nextPageToken: more ? encodeToken(page[page.length - 1]!) : '',
      total,
    };
  }

  async userDetail(req: GetUserDetailRequest): Promise<GetUserDetailResponse> {
    const userId = validId('user_id', req.userId);
    const [stats, limits] = await Promise.all([this.deps.tracker.stats(userId), this.deps.limiter.status(userId, '')]);
    return { ...stats, limits: limits.policies };
  }

  async statistics(): Promise<GetStatisticsResponse> {
    const { tracking } = this.deps;
    const now = this.deps.clock.now();
    const dates = lastDates(now, 7);
    const hours = Array.from({ length: 24 }, (_, i) => floorTo(now, HOUR_MS) - i * HOUR_MS);
    const dayStarts = Array.from({ length: 7 }, (_, i) => floorTo(now, DAY_MS) - i * DAY_MS);
    const [lastHour, lastDay, last7, days, suspended, top, hourly, daily] = await Promise.all([
      tracking.countActive(now - HOUR_MS),
      tracking.countActive(now - DAY_MS),
      tracking.countActive(now - RETENTION_MS),
      tracking.days(dates),
      tracking.suspendedUsers(now),
      tracking.topUsers(TOP_USERS),
      tracking.peaks('hour', hours),
      tracking.peaks('day', dayStarts),
    ]);
    const topSummaries = await tracking.summaries(top, now);
    const suspendedSet = new Set(suspended);
    return {
      usersTracked: last7,
      activeLastHour: lastHour,
      activeLastDay: lastDay,
      activeLast7Days: last7,
      dailyActiveUsers: days.map((d) => ({ date: d.date, count: d.activeUsers })),
      requestsPerActivity: days.map((d) => ({ date: d.date, activities: counts(d.activities) })),
      suspendedUsers: suspended.length,
      topUsers: topSummaries.flatMap((s) => (s ? [summaryProto(s, suspendedSet.has(s.userId))] : [])),
      hourlyPeaks: peaksProto(hourly),
      dailyPeaks: peaksProto(daily),
    };
  }

  async setSuspension(req: SetSuspensionRequest): Promise<SetSuspensionResponse> {
    const userId = validId('user_id', req.userId);
    const now = this.deps.clock.now();
    if (!req.suspended) {
      if (req.durationMs !== 0) throw FloodgateError.invalid('duration_ms', 'applies only when suspending (suspended: true)');
      if (req.reason !== '') throw FloodgateError.invalid('reason', 'applies only when suspending (suspended: true)');
      await this.deps.tracking.setSuspension(userId, undefined, now);
      return { suspension: suspensionProto(undefined) };
    }
    const reason = suspensionReason(req.reason);
    if (req.durationMs > MAX_SUSPENSION_MS) {
      throw FloodgateError.invalid('duration_ms', `must be at most ${MAX_SUSPENSION_MS} (10 years); 0 means until lifted`);
    }
    const state = { reason, since: now, until: req.durationMs ? now + req.durationMs : 0 };
    await this.deps.tracking.setSuspension(userId, state, now);
    // A remembered over-limit answer would otherwise hide the suspension here for a moment.
    this.deps.limiter.forget({ userId });
    return { suspension: suspensionProto(state) };
  }

  async resetTracking(req: ResetTrackingRequest): Promise<ResetTrackingResponse> {
    const userId = validId('user_id', req.userId);
    return { keysDeleted: await this.deps.tracking.resetUser(userId, this.deps.clock.now()) };
  }

  /** Deletes the subject's state of every algorithm (a policy may have switched algorithms). */
  async resetRateLimits(req: ResetRateLimitsRequest): Promise<ResetRateLimitsResponse> {
    const subject = validSubject(req.userId, req.ip);
    const policies = req.policy === '' ? this.deps.policies.list() : [this.deps.limiter.policy(req.policy)];
    const algorithms = Object.values(ALGORITHM_IMPLS);
    const keys = policies.flatMap((p) =>
      p.scopes.flatMap((scope) => {
        const id = scope === 'user' ? subject.userId : subject.ip;
        return id === undefined ? [] : algorithms.map((a) => this.deps.keys.rateLimit(scope, id, p.name, a.keySuffix));
      }),
    );
    const keysDeleted = await this.deps.store.deleteKeys(keys);
    this.deps.limiter.forget(subject);
    return { keysDeleted };
  }

  async storeStatus(): Promise<GetStoreStatusResponse> {
    const s = await this.deps.store.status();
    const buffer = this.deps.trackingBuffer;
    return { ...s, degraded: this.deps.degraded?.() ?? false, trackingBufferSize: buffer?.size ?? 0, trackingBufferDropped: buffer?.dropped ?? 0 };
  }
}

function pageSize(n: number): number {
  if (n === 0) return DEFAULT_PAGE_SIZE;
  if (n > MAX_PAGE_SIZE) throw FloodgateError.invalid('page_size', `must be at most ${MAX_PAGE_SIZE}, got ${n}`);
  return n;
}

/** Page tokens are opaque to clients: base64url of the last entry's position. */
function encodeToken(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.last, c.userId])).toString('base64url');
}

function decodeToken(token: string): Cursor {
  try {
    const [last, userId] = JSON.parse(Buffer.from(token, 'base64url').toString()) as unknown[];
    if (Number.isSafeInteger(last) && typeof userId === 'string') return { last: last as number, userId };
  } catch {
    // falls through to the error below
  }
  throw FloodgateError.invalid('page_token', 'is not a token from a previous response');
}

function emptySummary(userId: string): UserSummary {
  return { userId, first: 0, last: 0, total: 0, sessions: 0 };
}

function summaryProto(s: UserSummary, suspended: boolean): UserSummaryProto {
  return { userId: s.userId, firstSeenMs: s.first, lastSeenMs: s.last, totalRequests: s.total, sessionCount: s.sessions, suspended };
}

function peaksProto(peaks: ReadonlyArray<Peak | undefined>): ConcurrencyPeak[] {
  return peaks.flatMap((p) => (p ? [{ periodStartMs: p.periodStart, users: p.users, atMs: p.at }] : []));
}
