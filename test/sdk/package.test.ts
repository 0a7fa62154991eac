import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('works from the packed tarball alone: imports and type-checks in a consumer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-pack-'));
    try {
      const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: SDK, encoding: 'utf8' });
      expect(packed.status, packed.stderr).toBe(0);
      // The consumer sees the unpacked package; its dependencies come from the repo's node_modules.
      const app = join(dir, 'app');
      const pkg = join(app, 'node_modules/@floodgate/client');
      mkdirSync(pkg, { recursive: true });
      const untar = spawnSync('tar', ['xzf', join(dir, packed.stdout.trim().split('\n').pop()!), '-C', pkg, '--strip-components=1']);
      expect(untar.status, String(untar.stderr)).toBe(0);
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));

      writeFileSync(
        join(app, 'consumer.ts'),
        [
          "import { createClient, rateLimitHeaders, type Decision } from '@floodgate/client';",
          "import { rateLimit as expressLimit } from '@floodgate/client/express';",
          "import { rateLimit as fastifyLimit } from '@floodgate/client/fastify';",
          "const client = createClient({ address: '127.0.0.1:1', deadlineMs: 100, onUnavailable: 'allow' });",
          "const check: Promise<Decision> = client.checkLimit({ policy: 'ai', userId: 'u' });",
          // A check without a policy cannot be decided: the types refuse it (tsc fails on an unused expect-error).
          '// @ts-expect-error policy is required',
          "void client.checkLimit({ userId: 'u' });",
          "void client.checkLimits({ checks: [{ policy: 'ai' }, { policy: 'tts', cost: 2 }] });",
          'const headers: Record<string, string> = rateLimitHeaders({} as Decision);',
          "expressLimit({ client, policy: 'ai', userId: (req) => req.get('x-user-id') });",
          "fastifyLimit({ client, policy: 'ai', userId: (req) => req.id });",
          'export { check, headers };',
        ].join('\n'),
      );
      writeFileSync(join(app, 'package.json'), '{"type":"module"}');
      const tsc = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'consumer.ts'],
        { cwd: app, encoding: 'utf8' },
      );
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);

      const run = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "const m = await import('@floodgate/client'); const e = await import('@floodgate/client/express'); const f = await import('@floodgate/client/fastify');" +
            "console.log([typeof m.createClient, typeof m.FloodgateError, typeof m.RateLimitServiceService, typeof e.rateLimit, typeof f.rateLimit].join(','))",
        ],
        { cwd: app, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('function,function,object,function,function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000); // tsc over the express, fastify and grpc-js types takes seconds on a busy machine
});
