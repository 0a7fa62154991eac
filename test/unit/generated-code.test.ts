import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/server-process.js';

const BIN = join(ROOT, 'node_modules/.bin');
const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}` };

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, base) : [p.slice(base.length + 1)];
  });
}

describe('proto and generated code', () => {
  it('passes buf lint', () => {
    const r = spawnSync('buf', ['lint'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('commits exactly what buf generate writes', () => {
    const out = mkdtempSync(join(tmpdir(), 'fg-gen-'));
    try {
      const r = spawnSync('buf', ['generate', '-o', out], { cwd: ROOT, env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const fresh = join(out, 'client-sdk/src/gen');
      const committed = join(ROOT, 'client-sdk/src/gen');
      expect(files(committed).sort()).toEqual(files(fresh).sort());
      for (const f of files(fresh)) {
        expect(readFileSync(join(committed, f), 'utf8'), `${f} is stale: run npm run generate`).toBe(readFileSync(join(fresh, f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
