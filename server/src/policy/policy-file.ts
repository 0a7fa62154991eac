import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { parseDuration } from './duration.js';
import { ALGORITHMS, FAILURE_MODES, POLICY_NAME, SCOPES, type AlgorithmName, type FailureMode, type Policy, type ScopeName } from './policy.js';

/** A policy file that cannot be used; the message lists every problem with its line. */
export class PolicyFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyFileError';
  }
}

/** Sliding-log keys hold one entry per unit: past this, sliding_window is the right choice. */
export const MAX_SLIDING_LOG_LIMIT = 100_000;
export const MAX_LIMIT = 1_000_000;
/** Keeps limit × window (the scaled integer arithmetic of the counters) far below 2^53. */
export const MAX_WINDOW_MS = 30 * 86_400_000;
const MAX_DESCRIPTION = 500;

const FIELDS = ['name', 'limit', 'window', 'algorithm', 'scopes', 'ip_limit', 'burst', 'ip_burst', 'shadow', 'failure_mode', 'description'];

/**
 * Parses and validates a policy file (YAML, or JSON, which is YAML too). Every problem is
 * reported, each as `<file>:<line>: policy "<name>": <field>: <problem>`.
 */
export function parsePolicies(text: string, file: string): Policy[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const at = (node: Node | null | undefined) => (node?.range ? `${file}:${lines.linePos(node.range[0]).line}` : file);
  if (doc.errors.length) {
    throw new PolicyFileError(
      file,
      doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const problems: string[] = [];
  const root = doc.contents;
  if (!isMap(root)) throw new PolicyFileError(file, [`${at(root)}: expected a mapping with a "policies" list`]);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (key !== 'policies') problems.push(`${at(pair.key as Node)}: unknown key "${key}" (expected "policies")`);
  }
  const list = root.get('policies', true);
  if (!isSeq(list) || list.items.length === 0) {
    problems.push(`${at(list ?? root)}: policies: must be a non-empty list of policies`);
    throw new PolicyFileError(file, problems);
  }
  const seen = new Map<string, string>();
  const policies: Policy[] = [];
  list.items.forEach((item, index) => {
    if (!isMap(item)) {
      problems.push(`${at(item as Node)}: policies[${index}]: must be a mapping`);
      return;
    }
    // By the name as written, so that a name used twice is reported even where a definition has other problems.
    const name = nameOf(item);
    const first = name === undefined ? undefined : seen.get(name);
    if (first) problems.push(`${at(item)}: policy "${name}": name: already defined at ${first}`);
    else if (name !== undefined) seen.set(name, at(item));
    const policy = readPolicy(item, index, at, problems);
    if (policy) policies.push(policy);
  });
  if (problems.length) throw new PolicyFileError(file, inLineOrder(problems, file));
  return policies;
}

/** Problems in the order of their lines (they are found field by field); those without a line first. */
function inLineOrder(problems: string[], file: string): string[] {
  const line = (p: string) => Number.parseInt(p.slice(file.length + 1), 10) || 0;
  return problems.map((p) => [line(p), p] as const).sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

type At = (node: Node | null | undefined) => string;

/** The policy's name as written, if it is a string at all. */
function nameOf(map: YAMLMap): string | undefined {
  const node = map.get('name', true);
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

/** One policy mapping; undefined (with problems recorded) when it is invalid. */
function readPolicy(map: YAMLMap, index: number, at: At, problems: string[]): Policy | undefined {
  const before = problems.length;
  const written = nameOf(map);
  const label = written === undefined ? `policies[${index}]` : `policy "${written}"`;
  const fail = (node: Node | null | undefined, field: string, problem: string) => problems.push(`${at(node ?? map)}: ${label}: ${field}: ${problem}`);

  const values = new Map<string, { node: Node; value: unknown }>();
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    const node = pair.value as Node;
    if (!FIELDS.includes(key)) fail(pair.key as Node, key, `unknown field (known: ${FIELDS.join(', ')})`);
    else values.set(key, { node, value: isSeq(node) ? node.items.map((i) => (isScalar(i) ? i.value : i)) : isScalar(node) ? node.value : node });
  }
  const field = (name: string) => values.get(name);

  const str = (name: string, required: boolean): string | undefined => {
    const f = field(name);
    if (!f) {
      if (required) fail(map, name, 'is required');
      return undefined;
    }
    if (typeof f.value !== 'string') return void fail(f.node, name, `must be a string, got ${show(f.value)}`);
    return f.value;
  };
  const count = (name: string, max: number): number | undefined => {
    const f = field(name);
    if (!f) return undefined;
    if (typeof f.value !== 'number' || !Number.isInteger(f.value) || f.value < 1 || f.value > max) {
      return void fail(f.node, name, `must be a whole number from 1 to ${max}, got ${show(f.value)}`);
    }
    return f.value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], def: T): T | undefined => {
    const v = str(name, false);
    if (v === undefined) return field(name) ? undefined : def;
    if (!allowed.includes(v as T)) return void fail(field(name)!.node, name, `must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };

  const name = str('name', true);
  if (name !== undefined && !POLICY_NAME.test(name)) {
    fail(field('name')!.node, 'name', `"${name}" must be 1-64 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit`);
  }
  const algorithm = oneOf<AlgorithmName>('algorithm', ALGORITHMS, 'sliding_log');
  const limit = count('limit', algorithm === 'sliding_log' ? MAX_SLIDING_LOG_LIMIT : MAX_LIMIT);
  if (!field('limit')) fail(map, 'limit', 'is required');
  const asked = field('limit')?.value;
  if (algorithm === 'sliding_log' && Number.isInteger(asked) && (asked as number) > MAX_SLIDING_LOG_LIMIT && (asked as number) <= MAX_LIMIT) {
    problems[problems.length - 1] += ' (sliding_log keeps one entry per unit; use sliding_window for large limits)';
  }

  const windowMs = readWindow(field('window'), fail);
  const scopes = readScopes(field('scopes'), fail);
  const ipLimit = count('ip_limit', MAX_LIMIT);
  const burst = count('burst', MAX_LIMIT);
  const ipBurst = count('ip_burst', MAX_LIMIT);
  for (const f of ['burst', 'ip_burst']) {
    if (field(f) && algorithm !== undefined && algorithm !== 'token_bucket') fail(field(f)!.node, f, 'applies to algorithm token_bucket only');
  }
  for (const f of ['ip_limit', 'ip_burst']) {
    if (field(f) && scopes && !scopes.includes('ip')) fail(field(f)!.node, f, 'is set, but scopes does not include ip');
  }
  const shadowField = field('shadow');
  if (shadowField && typeof shadowField.value !== 'boolean') fail(shadowField.node, 'shadow', `must be true or false, got ${show(shadowField.value)}`);
  const failureMode = oneOf<FailureMode>('failure_mode', FAILURE_MODES, 'local');
  const description = str('description', false) ?? '';
  if (description.length > MAX_DESCRIPTION) fail(field('description')!.node, 'description', `must be at most ${MAX_DESCRIPTION} characters`);

  if (problems.length > before) return undefined;
  const policy: Policy = {
    name: name!,
    limit: limit!,
    windowMs: windowMs!,
    algorithm: algorithm!,
    scopes: scopes!,
    ipLimit: ipLimit ?? limit!,
    burst: burst ?? limit!,
    shadow: shadowField?.value === true,
    failureMode: failureMode!,
    description,
  };
  // Each key's bucket defaults to its own limit; an explicit burst applies to both keys.
  if (algorithm === 'token_bucket') policy.ipBurst = ipBurst ?? burst ?? policy.ipLimit;
  return policy;
}

type Fail = (node: Node | null | undefined, field: string, problem: string) => void;

function readWindow(f: { node: Node; value: unknown } | undefined, fail: Fail): number | undefined {
  if (!f) return void fail(undefined, 'window', 'is required');
  const ms = typeof f.value === 'string' ? parseDuration(f.value) : undefined;
  if (ms === undefined) {
    return void fail(f.node, 'window', `must be a duration with a unit (ms, s, m, h, d) such as 90s, 15m or 1h30m, got ${show(f.value)}`);
  }
  if (ms < 1 || ms > MAX_WINDOW_MS) return void fail(f.node, 'window', `must be from 1ms to 30d, got ${show(f.value)}`);
  return ms;
}

function readScopes(f: { node: Node; value: unknown } | undefined, fail: Fail): ScopeName[] | undefined {
  if (!f) return ['user', 'ip'];
  const v = f.value;
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => !SCOPES.includes(s as ScopeName)) || new Set(v).size !== v.length) {
    return void fail(f.node, 'scopes', `must be a list of distinct scopes from ${SCOPES.join(', ')}, got ${show(v)}`);
  }
  return v as ScopeName[];
}

function show(value: unknown): string {
  if (isMap(value) || isSeq(value)) return JSON.stringify(value.toJSON());
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}
