import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config/env.js';
import { ROOT } from '../support/server-process.js';
import { dockerignored, dockerignorePatterns, parseCopy, parseDockerfile, type Stage } from './dockerfile.js';
import { configPorts } from './server-config.js';

const stages = parseDockerfile(join(ROOT, 'Dockerfile'));
const runtime = stages.at(-1)!;
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const stageNamed = (name: string) => stages.find((s) => s.name === name);

/** Files under a path of the repo, relative to the repo root. */
function filesUnder(rel: string): string[] {
  const abs = join(ROOT, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).flatMap((entry) => filesUnder(`${rel}/${entry}`));
}

describe('Dockerfile', () => {
  it('builds with dev dependencies in one stage and runs on a Node 20 slim base with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.from).toMatch(/^node:20[\w.-]*-slim$/);

    const build = stages.find((s) => ops(s, 'RUN').some((r) => /\bnpm run build\b/.test(r)))!;
    expect(build, 'a stage runs npm run build').toBeDefined();
    expect(ops(build, 'RUN').some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);

    // node_modules of the runtime come from a stage that installed production dependencies only.
    const modules = ops(runtime, 'COPY').map(parseCopy).find((c) => c.dest === 'node_modules');
    expect(modules?.from).toBeDefined();
    const deps = stageNamed(modules!.from!)!;
    expect(ops(deps, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    // …and the runtime installs nothing itself.
    expect(ops(runtime, 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r))).toEqual([]);
  });

  it('runs as a numeric non-root user, so Kubernetes can enforce runAsNonRoot', () => {
    const user = ops(runtime, 'USER');
    expect(user).toHaveLength(1);
    const [uid, gid] = user[0]!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
  });

  it('exposes exactly the ports the server listens on by default', () => {
    const exposed = ops(runtime, 'EXPOSE')
      .flatMap((a) => a.split(/\s+/))
      .map((p) => Number(p.replace(/\/tcp$/, '')))
      .sort((a, b) => a - b);
    expect(exposed).toEqual(configPorts(loadConfig({})));
  });

  it('starts node directly (exec form, no shell) on a file the build produces, and stops with SIGTERM', () => {
    expect(ops(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(ops(runtime, 'ENTRYPOINT')).toEqual([]);
    const cmd = ops(runtime, 'CMD');
    expect(cmd).toHaveLength(1);
    const argv = JSON.parse(cmd[0]!) as string[];
    expect(argv[0]).toBe('node');
    expect(existsSync(join(ROOT, argv[1]!)), `${argv[1]} exists after npm run build`).toBe(true);
    expect(ops(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  it('copies from the context only paths that exist and that .dockerignore keeps', () => {
    const patterns = dockerignorePatterns(join(ROOT, '.dockerignore'));
    const copied = stages.flatMap((s) => ops(s, 'COPY').map(parseCopy)).filter((c) => c.from === undefined);
    expect(copied.length).toBeGreaterThan(0);
    for (const c of copied) {
      for (const source of c.sources) {
        expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
        const ignored = filesUnder(source).filter((f) => dockerignored(patterns, f));
        expect(ignored, `.dockerignore excludes files COPY ${source} needs`).toEqual([]);
      }
    }
    // The context stays small: tests, docs and build output are not sent.
    for (const path of ['test/e2e/server-process.test.ts', 'server/dist/main.js', 'node_modules/yaml/package.json', 'deploy/base/deployment.yaml']) {
      expect(dockerignored(patterns, path), path).toBe(true);
    }
  });

  it('copies from build stages only paths a local build produces, and from images only pinned versions', () => {
    const names = new Set(stages.map((s) => s.name));
    for (const c of stages.flatMap((s) => ops(s, 'COPY').map(parseCopy)).filter((c) => c.from !== undefined)) {
      if (names.has(c.from)) {
        // Build stages work in /app, the repo root's counterpart.
        for (const source of c.sources) {
          expect(source.startsWith('/app/'), source).toBe(true);
          expect(existsSync(join(ROOT, source.slice('/app/'.length))), `${source} exists after npm run build`).toBe(true);
        }
      } else {
        expect(c.from, 'an image with a version tag, not latest').toMatch(/^[\w./-]+:v?\d[\w.-]*$|@sha256:[0-9a-f]{64}$/);
      }
    }
  });

  it('ships grpc_health_probe on the PATH for exec probes', () => {
    const probe = ops(runtime, 'COPY').map(parseCopy).find((c) => c.from?.includes('grpc-health-probe'));
    expect(probe?.dest).toBe('/bin/grpc_health_probe');
  });
});

describe('.dockerignore matching', () => {
  it('follows the last matching pattern, for the path or any parent directory', () => {
    const patterns = ['*', '!server/src/', '**/*.map', '!keep.map'];
    expect(dockerignored(patterns, 'README.md')).toBe(true);
    expect(dockerignored(patterns, 'server/src/main.ts')).toBe(false);
    expect(dockerignored(patterns, 'server/package.json')).toBe(true);
    expect(dockerignored(patterns, 'server/src/x.js.map')).toBe(true);
    expect(dockerignored(patterns, 'keep.map')).toBe(false);
    expect(dockerignored(['node_modules'], 'node_modules_x/a')).toBe(false);
  });
});
