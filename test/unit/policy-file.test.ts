import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseDuration } from '../../server/src/policy/duration.js';
import { parsePolicies, PolicyFileError } from '../../server/src/policy/policy-file.js';
import { ROOT } from '../support/server-process.js';

function problems(text: string): string[] {
  try {
    parsePolicies(text, 'p.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    return (err as PolicyFileError).problems;
  }
  throw new Error('the file should have been rejected');
}

const one = (fields: string) => `policies:\n  - name: ai\n    limit: 20\n    window: 1m\n${fields}`;

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['90s', 90_000],
    ['5m', 300_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '60', '1x', 'm', '1.5m', '-1m', '1 m', '1m ', '1M'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('adds up any sequence of parts', () => {
    const unit = fc.constantFrom(['ms', 1], ['s', 1_000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), unit), { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
        expect(parseDuration(text)).toBe(parts.reduce((ms, [n, [, size]]) => ms + n * (size as number), 0));
      }),
    );
  });
});

describe('the policy file', () => {
  it('reads every field, with defaults for the optional ones', () => {
    const [ai, up] = parsePolicies(
      `policies:
  - name: ai
    limit: 20
    window: 1m
  - name: up
    limit: 10
    window: 90s
    algorithm: token_bucket
    scopes: [ip]
    ip_limit: 40
    burst: 5
    shadow: true
    failure_mode: closed
    description: uploads
`,
      'p.yaml',
    );
    expect(ai).toEqual({
      name: 'ai',
      limit: 20,
      windowMs: 60_000,
      algorithm: 'sliding_log',
      scopes: ['user', 'ip'],
      ipLimit: 20,
      burst: 20,
      shadow: false,
      failureMode: 'local',
      description: '',
    });
    expect(up).toEqual({
      name: 'up',
      limit: 10,
      windowMs: 90_000,
      algorithm: 'token_bucket',
      scopes: ['ip'],
      ipLimit: 40,
      burst: 5,
      ipBurst: 5,
      shadow: true,
      failureMode: 'closed',
      description: 'uploads',
    });
  });

  it('gives each token bucket key its own limit as bucket size unless burst is set', () => {
    const [p] = parsePolicies(one('    algorithm: token_bucket\n    ip_limit: 40\n'), 'p.yaml');
    expect([p!.burst, p!.ipBurst]).toEqual([20, 40]);
    const [q] = parsePolicies(one('    algorithm: token_bucket\n    ip_limit: 40\n    ip_burst: 8\n'), 'p.yaml');
    expect([q!.burst, q!.ipBurst]).toEqual([20, 8]);
  });

  it('reads the same policies from JSON', () => {
    const json = JSON.stringify({ policies: [{ name: 'ai', limit: 20, window: '1m', scopes: ['user'] }] }, null, '\t');
    expect(parsePolicies(json, 'p.json')).toMatchObject([{ name: 'ai', limit: 20, windowMs: 60_000, scopes: ['user'] }]);
  });

  it('accepts the example file in docs', () => {
    const text = readFileSync(`${ROOT}docs/policies.example.yaml`, 'utf8');
    const policies = parsePolicies(text, 'policies.example.yaml');
    expect(new Set(policies.map((p) => p.algorithm))).toEqual(new Set(['sliding_log', 'sliding_window', 'token_bucket', 'fixed_window']));
  });

  it.each([
    ['an unknown field', one('    limt: 5\n'), 'p.yaml:5: policy "ai": limt: unknown field'],
    ['a zero limit', 'policies:\n  - name: ai\n    limit: 0\n    window: 1m\n', 'p.yaml:3: policy "ai": limit: must be a whole number from 1 to 100000, got 0'],
    ['a fractional limit', 'policies:\n  - name: ai\n    limit: 2.5\n    window: 1m\n', 'p.yaml:3: policy "ai": limit: must be a whole number'],
    ['a string limit', 'policies:\n  - name: ai\n    limit: "20"\n    window: 1m\n', 'p.yaml:3: policy "ai": limit: must be a whole number from 1 to 100000, got "20"'],
    ['a huge sliding log', 'policies:\n  - name: ai\n    limit: 200000\n    window: 1m\n', 'use sliding_window for large limits'],
    ['an infinite limit', 'policies:\n  - name: ai\n    limit: .inf\n    window: 1m\n', 'p.yaml:3: policy "ai": limit: must be a whole number from 1 to 100000, got Infinity'],
    ['a missing limit', 'policies:\n  - name: ai\n    window: 1m\n', 'p.yaml:2: policy "ai": limit: is required'],
    ['a window without unit', 'policies:\n  - name: ai\n    limit: 5\n    window: 60\n', 'p.yaml:4: policy "ai": window: must be a duration with a unit'],
    ['a window of 0', 'policies:\n  - name: ai\n    limit: 5\n    window: 0s\n', 'p.yaml:4: policy "ai": window: must be from 1ms to 30d'],
    ['a window over 30 days', 'policies:\n  - name: ai\n    limit: 5\n    window: 31d\n', 'window: must be from 1ms to 30d, got "31d"'],
    ['a missing window', 'policies:\n  - name: ai\n    limit: 5\n', 'p.yaml:2: policy "ai": window: is required'],
    ['an unknown algorithm', one('    algorithm: leaky\n'), 'p.yaml:5: policy "ai": algorithm: must be one of sliding_log, sliding_window, token_bucket, fixed_window, got "leaky"'],
    ['an unknown scope', one('    scopes: [user, device]\n'), 'p.yaml:5: policy "ai": scopes: must be a list of distinct scopes from user, ip'],
    ['an empty scope list', one('    scopes: []\n'), 'p.yaml:5: policy "ai": scopes:'],
    ['a repeated scope', one('    scopes: [ip, ip]\n'), 'p.yaml:5: policy "ai": scopes:'],
    ['burst on a sliding log', one('    burst: 5\n'), 'p.yaml:5: policy "ai": burst: applies to algorithm token_bucket only'],
    ['ip_limit without the ip scope', one('    scopes: [user]\n    ip_limit: 5\n'), 'p.yaml:6: policy "ai": ip_limit: is set, but scopes does not include ip'],
    ['a non-boolean shadow', one('    shadow: "yes"\n'), 'p.yaml:5: policy "ai": shadow: must be true or false'],
    ['an unknown failure mode', one('    failure_mode: retry\n'), 'p.yaml:5: policy "ai": failure_mode: must be one of local, open, closed, got "retry"'],
    ['a bad name', 'policies:\n  - name: "AI Policy"\n    limit: 5\n    window: 1m\n', 'p.yaml:2: policy "AI Policy": name: "AI Policy" must be'],
    ['a missing name', 'policies:\n  - limit: 5\n    window: 1m\n', 'p.yaml:2: policies[0]: name: is required'],
    ['a repeated name', `${one('')}  - name: ai\n    limit: 5\n    window: 1m\n`, 'p.yaml:5: policy "ai": name: already defined at p.yaml:2'],
    ['a repeated name whose first definition has a problem too', `${one('    limt: 5\n')}  - name: ai\n    limit: 5\n    window: 1m\n`, 'p.yaml:6: policy "ai": name: already defined at p.yaml:2'],
    ['an unknown top-level key', `${one('')}extra: 1\n`, 'p.yaml:5: unknown key "extra"'],
    ['no policies', 'policies: []\n', 'p.yaml:1: policies: must be a non-empty list'],
    ['an empty file', '', 'p.yaml: expected a mapping with a "policies" list'],
    ['a scalar item', 'policies:\n  - ai\n', 'p.yaml:2: policies[0]: must be a mapping'],
    ['a YAML syntax error', 'policies:\n  - name: ai\n   limit: [\n', 'p.yaml:3:'],
    ['a repeated key', 'policies:\n  - name: ai\n    limit: 5\n    limit: 6\n    window: 1m\n', 'p.yaml:4: Map keys must be unique'],
  ])('rejects %s, naming the line, policy and field', (_, text, message) => {
    expect(problems(text).join('\n')).toContain(message);
  });

  it('rejects anything else with a PolicyFileError, never another exception', () => {
    const key = fc.constantFrom('name', 'limit', 'window', 'algorithm', 'scopes', 'ip_limit', 'burst', 'ip_burst', 'shadow', 'failure_mode', 'description', 'other');
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom('1m', 'ai', 'token_bucket', 'local', ['user'], 5, 0, -1, 1e300));
    const doc = fc.oneof(
      fc.record({ policies: fc.array(fc.dictionary(key, value), { maxLength: 4 }) }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(doc, fc.boolean(), (d, asYaml) => {
        const text = asYaml ? stringify(d) : JSON.stringify(d);
        try {
          parsePolicies(text, 'p.yaml');
        } catch (err) {
          expect(err).toBeInstanceOf(PolicyFileError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports every problem of the file at once', () => {
    const p = problems('policies:\n  - name: a\n    limit: -1\n    window: 1m\n  - name: b\n    limit: 1\n    window: soon\n');
    expect(p).toEqual([
      'p.yaml:3: policy "a": limit: must be a whole number from 1 to 100000, got -1',
      expect.stringContaining('p.yaml:7: policy "b": window:'),
    ]);
  });

  it('lists the problems in the order of their lines, whatever the order the fields are checked in', () => {
    // The window is on an earlier line than the limit here, and the repeated name comes last.
    const p = problems('policies:\n  - name: a\n    window: soon\n    limit: -1\n  - window: 1m\n    limit: 1\n    name: a\n');
    expect(p.map((line) => line.split(':')[1])).toEqual(['3', '4', '5']);
    expect(p[2]).toContain('name: already defined');
  });
});
