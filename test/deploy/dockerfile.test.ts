import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config/env.js';
import { healthStatus } from '../support/probes.js';
import { FLOODGATE, ROOT, SERVER_NODE_OPTIONS, ServerProcess } from '../support/server-process.js';
import { dockerignored, dockerignorePatterns, parseCopy, parseDockerfile, type Copy, type Stage } from './dockerfile.js';
import { configPorts } from './server-config.js';

const stages = parseDockerfile(join(ROOT, 'Dockerfile'));
const runtime = stages.at(-1)!;
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const stageNamed = (name: string) => stages.find((s) => s.name === name);

/** The runtime stage's ENV, each value taken whole after its first '='. */
function imageEnv(): Record<string, string> {
  return Object.fromEntries(
    ops(runtime, 'ENV')
      .flatMap((e) => e.split(/\s+/))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

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
    expect(exposed, 'EXPOSE lists every default port of the server config (its …Port fields)').toEqual(configPorts(loadConfig({})));
  });

  it('runs the server with the V8 options the tests and the bench start it with, as npm start does', () => {
    const argv = JSON.parse(ops(runtime, 'CMD')[0]!) as string[];
    expect(argv.slice(1, -1)).toEqual(SERVER_NODE_OPTIONS);
    // NODE_OPTIONS would add to them (and refuses the pretenuring one): the image leaves it unset.
    expect(imageEnv().NODE_OPTIONS).toBeUndefined();
    for (const pkg of ['package.json', 'server/package.json']) {
      const start = (JSON.parse(readFileSync(join(ROOT, pkg), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
      expect(start, pkg).toMatch(new RegExp(`\\bnode ${SERVER_NODE_OPTIONS.join(' ')} \\S*main\\.js$`));
    }
  });

  it('starts node directly (exec form, no shell) on a file the build produces, and stops with SIGTERM', () => {
    expect(ops(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(ops(runtime, 'ENTRYPOINT')).toEqual([]);
    const cmd = ops(runtime, 'CMD');
    expect(cmd).toHaveLength(1);
    const argv = JSON.parse(cmd[0]!) as string[];
    expect(argv[0]).toBe('node');
    expect(existsSync(join(ROOT, argv.at(-1)!)), `${argv.at(-1)} exists after npm run build`).toBe(true);
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

  it('copies from other images only pinned versions', () => {
    const names = new Set(stages.map((s) => s.name));
    const fromImages = stages.flatMap((s) => ops(s, 'COPY').map(parseCopy)).filter((c) => c.from !== undefined && !names.has(c.from));
    expect(fromImages.length).toBeGreaterThan(0);
    for (const c of fromImages) expect(c.from, 'an image with a version tag or digest, not latest').toMatch(/^[\w./-]+:v?\d[\w.-]*$|@sha256:[0-9a-f]{64}$/);
  });

  it('ships grpc_health_probe on the PATH for exec probes', () => {
    const probe = ops(runtime, 'COPY').map(parseCopy).find((c) => c.from?.includes('grpc-health-probe'));
    expect(probe?.dest).toBe('/bin/grpc_health_probe');
  });
});

/**
 * Carries out a stage's COPY and RUN instructions in a local directory standing for its /app:
 * COPY from the context takes files from the repo, COPY --from=<stage> from that stage's
 * directory, keeping symlinks as they are, as Docker does (npm workspaces link
 * node_modules/@floodgate/* to ../../<package>). COPY from other images is left out and
 * returned. Only the base image is not reproduced: Node is this machine's.
 */
function buildStage(stage: Stage, app: string, stageDirs: Map<string, string>): Copy[] {
  expect(ops(stage, 'WORKDIR')).toEqual(['/app']);
  mkdirSync(app);
  const fromImages: Copy[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.op === 'COPY') {
      const c = parseCopy(instruction.args);
      const root = c.from === undefined ? ROOT : stageDirs.get(c.from);
      if (root === undefined) {
        fromImages.push(c);
        continue;
      }
      for (const source of c.sources) {
        const from = c.from === undefined ? join(root, source) : join(root, source.slice('/app/'.length));
        const to = c.dest.endsWith('/') || c.dest === '.' ? join(app, c.dest, basename(source)) : join(app, c.dest);
        mkdirSync(join(to, '..'), { recursive: true });
        cpSync(from, to, { recursive: true, verbatimSymlinks: true });
      }
    } else if (instruction.op === 'RUN') {
      // Only PATH and HOME: npm's own variables from `npm test` would point it at the repo.
      execFileSync('sh', ['-c', instruction.args], {
        cwd: app,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: 'true' },
        stdio: 'pipe',
        timeout: 300_000,
      });
    }
  }
  return fromImages;
}

describe('the image, built stage by stage without a Docker engine', () => {
  it('builds, keeps dev dependencies out of the runtime, and serves health from its CMD', async () => {
    const work = mkdtempSync(join(tmpdir(), 'floodgate-image-'));
    try {
      const stageDirs = new Map<string, string>();
      let fromImages: Copy[] = [];
      for (const [i, stage] of stages.entries()) {
        const app = join(work, stage.name ?? String(i));
        fromImages = buildStage(stage, app, stageDirs);
        if (stage.name) stageDirs.set(stage.name, app);
      }
      const app = join(work, runtime.name ?? String(stages.length - 1));
      // The one file taken from another image is the health probe binary.
      expect(fromImages.map((c) => c.dest)).toEqual(['/bin/grpc_health_probe']);
      for (const devOnly of ['typescript', 'vitest', 'fast-check', '@bufbuild/buf', 'kubernetes-models']) {
        expect(existsSync(join(app, 'node_modules', devOnly)), devOnly).toBe(false);
      }

      const argv = JSON.parse(ops(runtime, 'CMD')[0]!) as string[];
      const env = imageEnv();
      // The CMD as it stands: node's options, then the main file, relative to WORKDIR.
      const server = await ServerProcess.start({ ...env, GRPC_PORT: '0', GRPC_HOST: '127.0.0.1' }, 30_000, {
        ...FLOODGATE,
        nodeArgs: argv.slice(1, -1),
        main: join(app, argv.at(-1)!),
      });
      try {
        expect(await healthStatus(server.address)).toBe('SERVING');
      } finally {
        expect(await server.stop('SIGTERM')).toBe(0);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 600_000);
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
