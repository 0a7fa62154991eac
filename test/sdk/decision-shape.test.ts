import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/server-process.js';

/**
 * Decisions built in optimized code must share one hidden class: with `{ ...res, ... }` V8 gave
 * each a map of its own, allocated in the old generation (3.5 KB per call in an app making
 * steady calls). Checked with V8's natives syntax in a child process, after enough calls for
 * the builder to be optimized.
 */
describe('decision objects', () => {
  it('share one hidden class once their builder is optimized, for fresh and aged decisions', () => {
    const script = `
      const { CheckLimitResponse } = await import(${JSON.stringify(`${ROOT}client-sdk/dist/index.js`)});
      const { toDecision, agedDecision } = await import(${JSON.stringify(`${ROOT}client-sdk/dist/decision.js`)});
      const bytes = CheckLimitResponse.encode(CheckLimitResponse.fromPartial({ allowed: false, reason: 2, policy: 'p',
        statuses: [{ key: 'u', limit: 1, remaining: 0, windowMs: 1000, resetAfterMs: 10, retryAfterMs: 5 }] })).finish();
      const fresh = () => toDecision(CheckLimitResponse.decode(bytes));
      // Decisions from responses only, as a client without the deny cache makes them; then aged ones too.
      for (let i = 0; i < 100000; i++) fresh();
      const [a, b] = [fresh(), fresh()];
      for (let i = 0; i < 50000; i++) agedDecision(fresh(), 1);
      const [c, d] = [agedDecision(fresh(), 1), agedDecision(fresh(), 2)];
      process.stdout.write(JSON.stringify({ fresh: %HaveSameMap(a, b), aged: %HaveSameMap(c, d), fast: %HasFastProperties(a) }));
    `;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ fresh: true, aged: true, fast: true });
  });
});
