import { randomBytes } from 'node:crypto';
import {
  FloodgateError,
  Reason,
  Scope,
  type CheckLimitRequest,
  type CheckLimitResponse,
  type CheckLimitResult,
  type GetLimitStatusResponse,
  type LimitStatus,
  type PolicyInfo,
} from '@floodgate/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import { noDecisions, type DecisionObserver } from '../metrics/observers.js';
import type { IpAllowlist } from '../net/ip.js';
import { burstFor, capacityFor, limitFor, POLICY_NAME, type Policy, type ScopeName } from '../policy/policy.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { KeySpace, SubjectKeys } from '../store/keys.js';
import { limitOf, type LimitCall, type OutcomeSink, type Store, type StoreOutcome } from '../store/store.js';
import { promised, Relay, tell, type Sink } from '../sink.js';
import type { Tracker } from '../tracking/tracker.js';
import type { ActivityEvent } from '../tracking/tracking-store.js';
import { validSubject, type Subject } from '../validation.js';
import type { LimitOutcome, Mode } from './algorithm.js';
import { algorithmFor } from './algorithms.js';
import type { DenyCache } from './deny-cache.js';

export interface RateLimiterDeps {
  store: Store;
  policies: PolicySource;
  keys: KeySpace;
  clock: Clock;
  allowlist: IpAllowlist;
  maxBatch: number;
  /** Checks in flight (taken, not yet answered) past which new ones are refused UNAVAILABLE; unbounded when unset. */
  maxInFlight?: number;
  /** Records `record_activity` of allowed checks; without it such checks are INVALID_ARGUMENT. */
  tracker?: Pick<Tracker, 'event' | 'record'>;
  /** Told of every answered check (metrics); nothing when unset. */
  decisions?: DecisionObserver;
  /** Repeats recent over-limit answers without a store call; none when unset. */
  denyCache?: DenyCache;
}

interface Target {
  scope: ScopeName;
  id: string;
  limit: number;
  keys: SubjectKeys;
}

/** The keys' outcomes in order; the first `consumed` of them consumed. */
type Outcomes = StoreOutcome[] & { consumed: number };

/** A validated check request and the store calls that decide it. */
interface Plan {
  policy: Policy;
  subject: Subject;
  targets: Target[];
  cost: number;
  activity: ActivityEvent | undefined;
  allowlisted: boolean;
  /** The user key is peeked for a suspension first, as the check does not count it. */
  suspensionCheck: boolean;
  mode: Mode;
  /** The state key of each target; none for an allowlisted IP. */
  keys: string[];
  /** The store calls for the keys, made when the store is asked (a cached deny needs only the keys). */
  calls?: LimitCall[];
}

/**
 * A comparison, not a lookup table: a keyed read of a table here sent V8 into a deoptimization
 * loop on the hot path (toStatus deoptimized about 150 times in 10 s of batches).
 */
const scopeProto = (scope: ScopeName): Scope => (scope === 'user' ? Scope.SCOPE_USER : Scope.SCOPE_IP);

/**
 * Decides rate-limit requests. A request naming both a user and an IP is checked against both
 * keys at once (one round trip per key's node); it is allowed only if both allow, and whatever
 * one key consumed is refunded when the other denies, so a deny never leaves consumption.
 */
export class RateLimiter {
  private readonly instance = randomBytes(4).toString('hex');
  private seq = 0;
  private inFlight = 0;

  constructor(private readonly deps: RateLimiterDeps) {}

  /** Checks taken and not yet answered, over all calls and streams. */
  get checksInFlight(): number {
    return this.inFlight;
  }

  /** Decides one request; every answered check is told to the decision observer. */
  check(req: CheckLimitRequest): Promise<CheckLimitResponse> {
    return promised((sink) => this.checkInto(req, sink));
  }

  /** check() told to a sink instead of a promise; a request refused at once (invalid, overloaded) may be told before this returns. */
  checkInto(req: CheckLimitRequest, sink: Sink<CheckLimitResponse>): void {
    let plan: Plan;
    try {
      plan = this.plan(req);
      this.admit(1);
    } catch (err) {
      return sink.failed(err);
    }
    this.decide(plan, this.deps.clock.now(), new Answering(this, sink));
  }

  /** A check taken by checkInto() is answered (for Answering). */
  answered(): void {
    this.inFlight--;
  }

  observed(res: CheckLimitResponse): CheckLimitResponse {
    (this.deps.decisions ?? noDecisions).decision(res.policy, res.reason, res.allowed);
    return res;
  }

  /**
   * Takes `checks` in, or refuses them all UNAVAILABLE when more than maxInFlight would then be
   * in flight. Past that the replica only queues: each check holds its objects until Redis
   * answers it, so memory and every call's wait grow with the queue, and a process past its
   * memory limit answers nothing. Refused at once, a call goes to another replica or to the
   * SDK's onUnavailable mode.
   */
  private admit(checks: number): void {
    const max = this.deps.maxInFlight ?? Infinity;
    if (this.inFlight + checks > max) {
      (this.deps.decisions ?? noDecisions).shed(checks);
      throw FloodgateError.unavailable(`overloaded: ${this.inFlight} checks in flight, at most ${max} (MAX_CHECKS_IN_FLIGHT); retry later or elsewhere`);
    }
    this.inFlight += checks;
  }

  /** Validates a request (throwing INVALID_ARGUMENT naming the field) into what deciding it takes. */
  private plan(req: CheckLimitRequest): Plan {
    const policy = this.policy(req.policy);
    const subject = validSubject(req.userId, req.ip);
    const targets = this.targets(policy, subject);
    const cost = validCost(req.cost, policy, targets);
    const activity = this.activity(req, subject);
    const allowlisted = subject.ip !== undefined && this.deps.allowlist.has(subject.ip);
    const mode: Mode = req.dryRun ? 'peek' : 'consume';
    return {
      policy,
      subject,
      targets,
      cost,
      activity,
      allowlisted,
      // A suspended user is denied even where the user key is not counted (allowlisted IP, IP-only policy).
      suspensionCheck: subject.userId !== undefined && (allowlisted || !policy.scopes.includes('user')),
      mode,
      keys: allowlisted ? [] : this.stateKeys(policy, targets),
      // Present from the start, so every plan keeps one shape.
      calls: undefined,
    };
  }

  /**
   * A plan's answer to `sink`. The usual check (no suspension pre-check, no allowlisted IP, nothing
   * to refund or record) takes no promise from the store's reply to the answer. Never throws.
   */
  private decide(plan: Plan, now: number, sink: Sink<CheckLimitResponse>): void {
    try {
      if (plan.suspensionCheck || plan.allowlisted) return tell(this.decideScreened(plan, now), sink);
      const cached = this.cachedDenies(plan, now);
      if (cached) return tell(this.concluded(plan, cached, now), sink);
      const calls = this.callsOf(plan);
      if (this.oneKeyAtATime(plan)) return tell(this.keyByKey(calls, now).then((o) => this.stored(plan, o, now)), sink);
      this.deps.store.limit(calls, now, new Stored(this, plan, now, sink));
    } catch (err) {
      sink.failed(err);
    }
  }

  /** A suspended user is denied before anything is counted; an allowlisted IP is not counted. */
  private async decideScreened(plan: Plan, now: number): Promise<CheckLimitResponse> {
    const { policy, subject, activity } = plan;
    if (plan.suspensionCheck) {
      const [peek] = await limitOf(this.deps.store, this.calls(policy, [this.target(policy, 'user', subject.userId!)], 0, 'peek'), now);
      if (peek!.blocked) return response(policy, false, false, Reason.REASON_SUSPENDED, []);
    }
    if (plan.allowlisted) {
      if (activity && plan.mode === 'consume') await this.deps.tracker!.record(activity);
      return response(policy, true, true, Reason.REASON_ALLOWLISTED, []);
    }
    return this.decided({ ...plan, suspensionCheck: false }, now);
  }

  /** decide() as a promise, for the paths that are not a single check's usual one. */
  private decided(plan: Plan, now: number): Promise<CheckLimitResponse> {
    return promised((sink) => this.decide(plan, now, sink));
  }

  /** The answer from outcomes the store gave, which are remembered where they deny (also for Stored). */
  stored(plan: Plan, outcomes: Outcomes, now: number): CheckLimitResponse | Promise<CheckLimitResponse> {
    this.rememberDenies(plan, outcomes, now);
    return this.concluded(plan, outcomes, now);
  }

  /** The answer from the keys' outcomes, once the refunds and the activity it calls for are written. */
  private concluded(plan: Plan, outcomes: Outcomes, now: number): CheckLimitResponse | Promise<CheckLimitResponse> {
    const { res, refunds, record } = conclude(plan, outcomes);
    if (refunds.length === 0 && !record) return res;
    return this.written(res, refunds, record ? plan.activity : undefined, now);
  }

  private async written(res: CheckLimitResponse, refunds: readonly LimitCall[], activity: ActivityEvent | undefined, now: number): Promise<CheckLimitResponse> {
    if (refunds.length) await limitOf(this.deps.store, refunds, now);
    if (activity) await this.deps.tracker!.record(activity);
    return res;
  }

  /** Every key's cached over-limit answer, when all of the plan's keys have one; else undefined. */
  private cachedDenies(plan: Plan, now: number): Outcomes | undefined {
    const outcomes = this.deps.denyCache?.answer(plan.keys, plan.cost, plan.policy, now);
    return outcomes && withConsumed(outcomes, 0);
  }

  private rememberDenies(plan: Plan, outcomes: readonly StoreOutcome[], now: number): void {
    const cache = this.deps.denyCache;
    if (!cache) return;
    const calls = this.callsOf(plan);
    for (let i = 0; i < outcomes.length; i++) cache.remember(calls[i]!, plan.policy, outcomes[i]!, now);
  }

  /** Drops what this replica remembers of a subject's limits (after an admin reset or suspension). */
  forget(subject: Subject): void {
    const cache = this.deps.denyCache;
    if (subject.userId !== undefined) cache?.forget(this.deps.keys.subjectTag('user', subject.userId));
    if (subject.ip !== undefined) cache?.forget(this.deps.keys.subjectTag('ip', subject.ip));
  }

  /**
   * Whether a plan's keys can go to the store together with other requests' keys: all but the
   * special cases decide() handles (suspension pre-check, allowlisted IP, a user + IP consume on a
   * Cluster, which runs key by key).
   */
  private together(plan: Plan): boolean {
    return !plan.suspensionCheck && !plan.allowlisted && !this.oneKeyAtATime(plan);
  }

  /** A user + IP consumption on a Cluster: see keyByKey(). */
  private oneKeyAtATime(plan: Plan): boolean {
    return plan.keys.length > 1 && plan.mode === 'consume' && this.deps.store.kind === 'cluster';
  }

  /**
   * A user + IP consumption on a Cluster: the keys live on different nodes, and
   * a burst run all at once can spend one key on requests the other denies, so that fewer than
   * the limit pass. So each key consumes only after the previous one allowed, and the keys after
   * a deny are only peeked. Returns the outcomes with how many of them (from the first) consumed.
   */
  private async keyByKey(calls: LimitCall[], now: number): Promise<Outcomes> {
    const store = this.deps.store;
    const outcomes: StoreOutcome[] = [];
    for (const call of calls) {
      const [o] = await limitOf(store, [call], now);
      outcomes.push(o!);
      if (!o!.allowed) break;
    }
    const consumed = outcomes.length;
    const rest = calls.slice(consumed).map((c): LimitCall => ({ ...c, mode: 'peek' }));
    if (rest.length) outcomes.push(...(await limitOf(store, rest, now)));
    return withConsumed(outcomes, consumed);
  }

  /** The activity to record with this check (validated before anything is counted). */
  private activity(req: CheckLimitRequest, subject: Subject): ActivityEvent | undefined {
    if (req.recordActivity === '') {
      if (req.sessionId !== '') throw FloodgateError.invalid('session_id', 'applies only with record_activity');
      return undefined;
    }
    if (!this.deps.tracker) throw FloodgateError.invalid('record_activity', 'activity tracking is not enabled on this server');
    if (subject.userId === undefined) throw FloodgateError.invalid('record_activity', 'needs user_id');
    return this.deps.tracker.event(
      { userId: subject.userId, activity: req.recordActivity, ip: subject.ip ?? '', sessionId: req.sessionId, atMs: 0 },
      'record_activity',
    );
  }

  /**
   * Each check answered on its own, as check() would. The keys of all ordinary checks go to the
   * store in one call (one pipeline, and one promise for the batch rather than several per check),
   * their refunds in one more; the special cases are decided one by one alongside.
   */
  async checkMany(reqs: readonly CheckLimitRequest[]): Promise<CheckLimitResult[]> {
    if (reqs.length === 0) throw FloodgateError.invalid('checks', 'must hold at least one check');
    if (reqs.length > this.deps.maxBatch) {
      throw FloodgateError.invalid('checks', `holds ${reqs.length} checks; at most ${this.deps.maxBatch} are allowed`);
    }
    this.admit(reqs.length);
    try {
      return await this.decideMany(reqs);
    } finally {
      this.inFlight -= reqs.length;
    }
  }

  private async decideMany(reqs: readonly CheckLimitRequest[]): Promise<CheckLimitResult[]> {
    const now = this.deps.clock.now();
    const results = new Array<CheckLimitResult>(reqs.length);
    const answer = (i: number, res: CheckLimitResponse) => (results[i] = { response: this.observed(res), error: undefined });
    const fail = (i: number, err: unknown) => (results[i] = failedCheck(i, err));
    const pending: Array<Promise<unknown>> = [];
    const refunds: LimitCall[] = [];
    // As decide() ends: refunds collected for one store call, the activity recorded before the answer.
    const finish = (i: number, plan: Plan, outcomes: Outcomes) => {
      const { res, refunds: own, record } = conclude(plan, outcomes);
      refunds.push(...own);
      if (record) pending.push(this.deps.tracker!.record(plan.activity!).then(() => answer(i, res), (err: unknown) => fail(i, err)));
      else answer(i, res);
    };
    const together: Array<{ i: number; plan: Plan }> = [];
    for (let i = 0; i < reqs.length; i++) {
      let plan: Plan;
      try {
        plan = this.plan(reqs[i]!);
      } catch (err) {
        fail(i, err);
        continue;
      }
      if (!this.together(plan)) {
        pending.push(this.decided(plan, now).then((res) => answer(i, res), (err: unknown) => fail(i, err)));
        continue;
      }
      const cached = this.cachedDenies(plan, now);
      if (cached) finish(i, plan, cached);
      else together.push({ i, plan });
    }

    const outcomes = together.length ? await limitOf(this.deps.store, this.callsOfAll(together), now) : [];
    let at = 0;
    for (const { i, plan } of together) {
      const own = consumedAll(plan, outcomes.slice(at, (at += plan.keys.length)));
      this.rememberDenies(plan, own, now);
      finish(i, plan, own);
    }
    if (refunds.length) pending.push(limitOf(this.deps.store, refunds, now));
    if (pending.length) await Promise.all(pending);
    return results;
  }

  /**
   * Usage of every policy for the subject, consuming nothing. Each key is peeked as a request of
   * one unit would be, so that `allowed` and `retry_after_ms` say whether and when the next request
   * gets through (a peek of nothing is always allowed); `remaining` is then put back to what it is
   * now, as a dry run's unspent units are.
   */
  async status(userId: string, ip: string): Promise<GetLimitStatusResponse> {
    const subject = validSubject(userId, ip);
    const rows = this.deps.policies.list().map((policy) => {
      const targets = this.targetsOf(policy, subject);
      return { policy, targets, calls: this.calls(policy, targets, NEXT_REQUEST_COST, 'peek') };
    });
    const outcomes = await limitOf(
      this.deps.store,
      rows.flatMap((r) => r.calls),
      this.deps.clock.now(),
    );
    let next = 0;
    return {
      degraded: outcomes.some((o) => o.degraded),
      suspended: outcomes.some((o) => o.blocked),
      policies: rows.map(({ policy, targets }) => ({
        policy: policyInfo(policy),
        statuses: targets.map((t) => {
          const o = outcomes[next++]!;
          return toStatus(policy, t, o.allowed ? restore(o, NEXT_REQUEST_COST) : o);
        }),
      })),
    };
  }

  /** The named policy; INVALID_ARGUMENT for a malformed name, NOT_FOUND for an unknown one. */
  policy(name: string): Policy {
    // A known name is a valid one: the name check is only needed to word the error.
    const policy = this.deps.policies.get(name);
    if (policy) return policy;
    if (name === '') throw FloodgateError.invalid('policy', 'is required');
    if (!POLICY_NAME.test(name)) throw FloodgateError.invalid('policy', `"${name.slice(0, 64)}" is not a valid policy name`);
    throw FloodgateError.notFound(`policy: no policy named "${name}"`, 'policy');
  }

  private targets(policy: Policy, subject: Subject): Target[] {
    const targets = this.targetsOf(policy, subject);
    if (targets.length === 0) {
      const field = policy.scopes.includes('user') ? 'user_id' : 'ip';
      throw FloodgateError.invalid(field, `policy "${policy.name}" limits by ${policy.scopes.join(' and ')}; ${field} is required`);
    }
    return targets;
  }

  /** The keys of the policy's scopes that the subject names (a plain loop: flatMap was a hot spot). */
  private targetsOf(policy: Policy, subject: Subject): Target[] {
    let targets: Target[] | undefined;
    for (const scope of policy.scopes) {
      const id = scope === 'user' ? subject.userId : subject.ip;
      if (id === undefined) continue;
      const target = this.target(policy, scope, id);
      // Arrays of their exact length: one grown from [] takes room for 17 elements.
      targets = targets ? [...targets, target] : [target];
    }
    return targets ?? [];
  }

  /** One scope's key of a subject under a policy, with the subject's keys looked up once. */
  private target(policy: Policy, scope: ScopeName, id: string): Target {
    return { scope, id, limit: limitFor(policy, scope), keys: this.deps.keys.subject(scope, id) };
  }

  /** The store calls of every plan, in order: a loop into an array of its length (flatMap took over half of decideMany's own time). */
  private callsOfAll(together: ReadonlyArray<{ plan: Plan }>): LimitCall[] {
    let count = 0;
    for (const { plan } of together) count += plan.keys.length;
    const all = new Array<LimitCall>(count);
    let at = 0;
    for (const { plan } of together) for (const call of this.callsOf(plan)) all[at++] = call;
    return all;
  }

  private callsOf(plan: Plan): LimitCall[] {
    return (plan.calls ??= this.calls(plan.policy, plan.targets, plan.cost, plan.mode, plan.keys));
  }

  private stateKeys(policy: Policy, targets: readonly Target[]): string[] {
    const keys = new Array<string>(targets.length);
    for (let i = 0; i < targets.length; i++) keys[i] = this.stateKey(policy, targets[i]!);
    return keys;
  }

  private stateKey(policy: Policy, t: Target): string {
    return this.deps.keys.rateLimitOf(t.keys, policy.name, algorithmFor(policy.algorithm).keySuffix);
  }

  private calls(policy: Policy, targets: readonly Target[], cost: number, mode: Mode, keys?: readonly string[]): LimitCall[] {
    const algorithm = algorithmFor(policy.algorithm);
    const member = `${this.instance}.${(this.seq++).toString(36)}`;
    // A loop into an array of its length, not map(): no closure per check.
    const calls = new Array<LimitCall>(targets.length);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      calls[i] = {
        algorithm,
        key: keys?.[i] ?? this.stateKey(policy, t),
        blockKey: t.keys.block,
        args: { limit: t.limit, windowMs: policy.windowMs, cost, burst: burstFor(policy, t.scope), member },
        mode,
        failureMode: policy.failureMode,
      };
    }
    return calls;
  }
}

/** A check taken by checkInto(): counted out of those in flight and told to the observer as it is answered. */
class Answering implements Sink<CheckLimitResponse> {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly sink: Sink<CheckLimitResponse>,
  ) {}

  done(res: CheckLimitResponse): void {
    this.limiter.answered();
    this.sink.done(this.limiter.observed(res));
  }

  failed(err: unknown): void {
    this.limiter.answered();
    this.sink.failed(err);
  }
}

/** The store's outcomes for a plan whose keys all went to it at once, as the check's answer. */
class Stored extends Relay<StoreOutcome[], CheckLimitResponse> implements OutcomeSink {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly plan: Plan,
    private readonly now: number,
    sink: Sink<CheckLimitResponse>,
  ) {
    super(sink);
  }

  protected produce(outcomes: StoreOutcome[]): CheckLimitResponse | Promise<CheckLimitResponse> {
    return this.limiter.stored(this.plan, consumedAll(this.plan, outcomes), this.now);
  }
}

/** The outcomes of a plan whose keys all went to the store at once: all of them consumed, unless it only peeks. */
function consumedAll(plan: Plan, outcomes: StoreOutcome[]): Outcomes {
  return withConsumed(outcomes, plan.mode === 'consume' ? outcomes.length : 0);
}

/** Set in place, not by Object.assign(): no object per check to carry the count. */
function withConsumed(outcomes: StoreOutcome[], consumed: number): Outcomes {
  (outcomes as Outcomes).consumed = consumed;
  return outcomes as Outcomes;
}

/** A check's error as its batch result; UNAVAILABLE fails the whole batch instead. */
function failedCheck(i: number, err: unknown): CheckLimitResult {
  const e = FloodgateError.from(err);
  if (e.code === grpcStatus.UNAVAILABLE) throw e;
  return { response: undefined, error: { code: e.codeName, message: `checks[${i}].${e.message}` } };
}

/** The request a status answers for: the next one, of one unit. */
const NEXT_REQUEST_COST = 1;

/** What conclude() gives back when nothing is to be refunded, the usual case: no array per check. */
const NO_REFUNDS: readonly LimitCall[] = Object.freeze([]);

/**
 * The answer from the keys' outcomes (the first `consumed` of them consumed): allowed only if
 * every key allows; keys that allowed while another denied spend nothing, so those that consumed
 * are to be refunded, and all are reported as unspent (a dry run reports what the real check would).
 * A suspended user's answer has no statuses, as on the path that finds the suspension before
 * any key is asked: nothing was counted. `record`: the request's activity is to be recorded.
 */
function conclude(plan: Plan, outcomes: Outcomes): { res: CheckLimitResponse; refunds: readonly LimitCall[]; record: boolean } {
  const { policy, targets, cost } = plan;
  let blocked = false;
  let allowed = true;
  let degraded = false;
  for (const o of outcomes) {
    blocked ||= o.blocked;
    allowed &&= o.allowed;
    degraded ||= o.degraded !== undefined;
  }
  allowed &&= !blocked;
  // Sized up front: an array grown from [] takes room for 17 elements, for one or two statuses.
  const statuses = new Array<LimitStatus>(outcomes.length);
  let refunds: LimitCall[] | undefined;
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i]!;
    const unspent = !allowed && o.allowed;
    // Only keys sent to the store consumed, so their calls exist.
    if (unspent && i < outcomes.consumed) (refunds ??= []).push({ ...plan.calls![i]!, mode: 'refund' });
    statuses[i] = toStatus(policy, targets[i]!, unspent ? restore(o, cost) : o);
  }
  const admitted = allowed || (policy.shadow && !blocked);
  return {
    res: response(policy, admitted, allowed, reasonOf(outcomes, blocked, allowed, degraded), blocked ? [] : statuses, degraded),
    refunds: refunds ?? NO_REFUNDS,
    record: plan.activity !== undefined && admitted && plan.mode === 'consume',
  };
}

/**
 * Without Redis, `open` and `closed` decide with their own reasons; `local` decides as usual
 * (marked degraded). `degraded`: some outcome is; when none is, no closure per check looks.
 */
function reasonOf(outcomes: readonly StoreOutcome[], blocked: boolean, allowed: boolean, degraded: boolean): Reason {
  if (blocked) return Reason.REASON_SUSPENDED;
  if (allowed) return degraded && outcomes.some((o) => o.degraded === 'open') ? Reason.REASON_DEGRADED_ALLOW : Reason.REASON_OK;
  return degraded && outcomes.some((o) => o.degraded === 'closed') ? Reason.REASON_DEGRADED_DENY : Reason.REASON_OVER_LIMIT;
}

/** Built as one literal: spreading a shared base object into every response cost ~µs per call. */
function response(policy: Policy, allowed: boolean, wouldAllow: boolean, reason: Reason, statuses: LimitStatus[], degraded = false): CheckLimitResponse {
  return { policy: policy.name, allowed, wouldAllow, reason, statuses, degraded, shadow: policy.shadow };
}

function validCost(cost: number | undefined, policy: Policy, targets: readonly Target[]): number {
  if (cost === undefined) return 1;
  if (cost === 0) throw FloodgateError.invalid('cost', 'must be at least 1 (leave it unset for 1)');
  const max = Math.min(...targets.map((t) => capacityFor(policy, t.scope)));
  const what = policy.algorithm === 'token_bucket' ? 'burst' : 'limit';
  if (cost > max) throw FloodgateError.invalid('cost', `${cost} exceeds the ${what} ${max} of policy "${policy.name}"`);
  return cost;
}

/** The state of a key whose consumption was refunded (or never made): as it was before this request. */
function restore(o: LimitOutcome, cost: number): LimitOutcome {
  return { ...o, remaining: o.remaining + cost };
}

function toStatus(policy: Policy, target: Target, o: LimitOutcome): LimitStatus {
  return {
    scope: scopeProto(target.scope),
    limit: target.limit,
    remaining: o.remaining,
    windowMs: policy.windowMs,
    resetAfterMs: o.resetAfterMs,
    retryAfterMs: o.retryAfterMs,
    allowed: o.allowed,
  };
}

export function policyInfo(p: Policy): PolicyInfo {
  return {
    name: p.name,
    limit: p.limit,
    windowMs: p.windowMs,
    algorithm: p.algorithm,
    scopes: p.scopes.map((s) => scopeProto(s)),
    ipLimit: p.ipLimit,
    burst: p.algorithm === 'token_bucket' ? burstFor(p, 'user') : 0,
    ipBurst: p.algorithm === 'token_bucket' && p.scopes.includes('ip') ? burstFor(p, 'ip') : 0,
    shadow: p.shadow,
    failureMode: p.failureMode,
    description: p.description,
  };
}
