import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/server-process.js';

const SDK = join(ROOT, 'client-sdk');

describe('the @floodgate/client package', () => {
  // Scripts are skipped so packing does not rebuild dist under the other tests' feet;
  // `npm test` has just built it.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: SDK, encoding: 'utf8' });
  const files = r.status === 0 ? (JSON.parse(r.stdout) as Array<{ name: string; files: Array<{ path: string }> }>)[0]! : undefined;
  const paths = files?.files.map((f) => f.path) ?? [];
  const manifest = JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types: string; default: string }>;
    peerDependenciesMeta: Record<string, { optional: boolean }>;
  };

  it('packs as @floodgate/client', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(files?.name).toBe('@floodgate/client');
  });

  it('holds the built ESM and type declarations, the README and the manifest, and nothing else', () => {
    expect(paths).toContain('README.md');
    expect(paths).toContain('package.json');
    const rest = paths.filter((p) => p !== 'README.md' && p !== 'package.json');
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.filter((p) => !/^dist\/.+\.(js|d\.ts)$/.test(p))).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(src|test)\/|tsbuildinfo|\.map$/.test(p))).toEqual([]);
  });

  it('ships every file its exports point at', () => {
    for (const [sub, target] of Object.entries(manifest.exports)) {
      const targets = typeof target === 'string' ? [target] : [target.types, target.default];
      for (const t of targets) expect(paths, `export ${sub}`).toContain(t.replace(/^\.\//, ''));
    }
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['.', './express', './fastify']));
  });

  it('leaves express and fastify to the app, as optional peers', () => {
    expect(manifest.peerDependenciesMeta).toEqual({ express: { optional: true }, fastify: { optional: true } });
  });
});
