export const ALGORITHMS = ['sliding_log', 'sliding_window', 'token_bucket', 'fixed_window'] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export const FAILURE_MODES = ['local', 'open', 'closed'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export const SCOPES = ['user', 'ip'] as const;
export type ScopeName = (typeof SCOPES)[number];

/** Names end up inside Redis keys and metric labels, so they are kept to a safe alphabet. */
export const POLICY_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export interface Policy {
  name: string;
  /** Requests (cost units) per window, per user key. */
  limit: number;
  windowMs: number;
  algorithm: AlgorithmName;
  scopes: ScopeName[];
  /** Limit of the IP key; the user limit when not set. */
  ipLimit: number;
  /** Bucket size of token_bucket; the limit when not set. */
  burst: number;
  /** Bucket size of the IP key of token_bucket; `burst` when not set. */
  ipBurst?: number;
  /** Decide and count, but always allow. */
  shadow: boolean;
  failureMode: FailureMode;
  description: string;
}

/** The limit that applies to one scope of a policy. */
export function limitFor(policy: Policy, scope: ScopeName): number {
  return scope === 'ip' ? policy.ipLimit : policy.limit;
}

/** Most cost units one request can ever take on a scope's key: the bucket size for token_bucket. */
export function capacityFor(policy: Policy, scope: ScopeName): number {
  return policy.algorithm === 'token_bucket' ? burstFor(policy, scope) : limitFor(policy, scope);
}

export function burstFor(policy: Policy, scope: ScopeName): number {
  return scope === 'ip' ? (policy.ipBurst ?? policy.burst) : policy.burst;
}

const MINUTE = 60_000;

function preset(name: string, limit: number, windowMs: number, description: string): Policy {
  return {
    name,
    limit,
    windowMs,
    algorithm: 'sliding_log',
    scopes: ['user', 'ip'],
    ipLimit: limit,
    burst: limit,
    shadow: false,
    failureMode: 'local',
    description,
  };
}

/** The limits of the system Floodgate replaces; used when no policy file is configured. */
export const DEFAULT_POLICIES: readonly Policy[] = [
  preset('general', 100, 15 * MINUTE, 'Every API request'),
  preset('ai', 20, MINUTE, 'AI generation'),
  preset('pronunciation', 10, MINUTE, 'Pronunciation scoring'),
  preset('tts', 30, MINUTE, 'Text to speech'),
  preset('image', 15, MINUTE, 'Image generation'),
];
