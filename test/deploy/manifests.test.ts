import { createClient } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../server/src/config/env.js';
import { DEFAULT_POLICIES } from '../../server/src/policy/policy.js';
import { parsePolicies } from '../../server/src/policy/policy-file.js';
import { LIVENESS_SERVICE } from '../../server/src/grpc/server.js';
import { healthStatus } from '../support/probes.js';
import { ROOT, ServerProcess } from '../support/server-process.js';
import { parseCopy, parseDockerfile } from './dockerfile.js';
import { kubectlKustomize, kustomizationDirs, objectId, renderKustomization, type K8sObject } from './kustomize.js';
import { unknownFields, validateObject } from './schemas.js';
import { configEnvNames, configPorts } from './server-config.js';

const DEPLOY = join(ROOT, 'deploy');
const DIRS = kustomizationDirs(DEPLOY);
const name = (dir: string) => relative(DEPLOY, dir);

/** kubectl's render where kubectl is installed (checked against ours), else ours. */
const renders = new Map<string, K8sObject[]>();
function render(dir: string): K8sObject[] {
  if (!renders.has(dir)) renders.set(dir, kubectlKustomize(dir) ?? renderKustomization(dir));
  return renders.get(dir)!;
}

const byId = (objects: K8sObject[]) => new Map(objects.map((o) => [objectId(o), o]));
const find = (objects: K8sObject[], kind: string, n: string) => objects.find((o) => o.kind === kind && o.metadata.name === n);

type Container = Record<string, any>;
interface Pod {
  workload: K8sObject;
  spec: Record<string, any>;
  labels: Record<string, string>;
}

function pods(objects: K8sObject[]): Pod[] {
  return objects
    .filter((o) => o.kind === 'Deployment')
    .map((o) => ({ workload: o, spec: o.spec.template.spec, labels: o.spec.template.metadata.labels }));
}

function containers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** The Floodgate server containers (named floodgate, running the image's own command). */
function floodgates(objects: K8sObject[]): { pod: Pod; container: Container }[] {
  return pods(objects).flatMap((pod) => containers(pod).filter((c) => c.name === 'floodgate').map((container) => ({ pod, container })));
}

/** A container's environment as the kubelet would set it, Secret and ConfigMap references resolved. */
function environment(container: Container, objects: K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value;
    } else if (e.valueFrom?.secretKeyRef) {
      const { name: secret, key } = e.valueFrom.secretKeyRef;
      const data = find(objects, 'Secret', secret)?.data?.[key];
      if (data === undefined) throw new Error(`${e.name}: Secret ${secret} has no key ${key}`);
      env[e.name] = Buffer.from(data, 'base64').toString('utf8');
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name: map, key } = e.valueFrom.configMapKeyRef;
      const data = find(objects, 'ConfigMap', map)?.data?.[key];
      if (data === undefined) throw new Error(`${e.name}: ConfigMap ${map} has no key ${key}`);
      env[e.name] = data;
    } else {
      throw new Error(`${e.name}: unsupported env source ${JSON.stringify(e.valueFrom)}`);
    }
  }
  return env;
}

/** The port a probe checks: the native grpc probe's port, or grpc_health_probe's -addr. */
function probePort(probe: Record<string, any>): number {
  if (probe.grpc) return probe.grpc.port;
  const argv: string[] = probe.exec?.command ?? [];
  expect(argv[0]).toBe('grpc_health_probe');
  const addr = argv.find((a) => a.startsWith('-addr='));
  return Number(/:(\d+)$/.exec(addr ?? '')?.[1]);
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const DEFAULTS = loadConfig({});

describe.each(DIRS.map((dir) => [name(dir), dir]))('deploy/%s', (_, dir) => {
  it('renders, and every object is valid against the Kubernetes schemas', async () => {
    const objects = render(dir);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) await validateObject(o);
    expect(unknownFields(objects)).toEqual([]);
    // Where kubectl is installed, the fallback renderer must agree with it.
    const kubectl = kubectlKustomize(dir);
    if (kubectl) expect(byId(renderKustomization(dir))).toEqual(byId(kubectl));
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', () => {
    for (const pod of pods(render(dir))) {
      expect(pod.spec.securityContext?.runAsNonRoot, pod.workload.metadata.name).toBe(true);
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      for (const c of containers(pod)) {
        const sc = c.securityContext ?? {};
        expect(sc.runAsNonRoot, c.name).toBe(true);
        expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
        expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
        expect(sc.capabilities?.drop, c.name).toContain('ALL');
        expect(c.resources?.requests?.cpu, c.name).toBeDefined();
        expect(c.resources?.requests?.memory, c.name).toBeDefined();
        expect(c.resources?.limits?.memory, c.name).toBeDefined();
      }
    }
  });

  it('sets only environment variables the server reads, with values its config accepts', () => {
    const known = configEnvNames();
    for (const { container } of floodgates(render(dir))) {
      const env = environment(container, render(dir));
      for (const variable of Object.keys(env)) expect(known, `${variable} is read by server/src/config`).toContain(variable);
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  it('probes the gRPC port the server listens on, which is the config default', () => {
    for (const { container } of floodgates(render(dir))) {
      const config = loadConfig(environment(container, render(dir)));
      expect(config.grpcPort).toBe(DEFAULTS.grpcPort);
      const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe];
      for (const probe of probes) {
        expect(probe).toBeDefined();
        expect(probePort(probe)).toBe(config.grpcPort);
        // The kubelet's native grpc probe dials the pod IP: a server bound to loopback needs exec.
        if (probe.grpc) expect(['0.0.0.0', '::']).toContain(config.grpcHost);
      }
      const ports = (container.ports ?? []).map((p: { containerPort: number }) => p.containerPort).sort((a: number, b: number) => a - b);
      if (ports.length > 0) expect(ports, 'containerPorts are the ports the server config listens on').toEqual(configPorts(config));
    }
  });

  it('lets the server finish its shutdown before the kubelet kills it: grace period > preStop + SHUTDOWN_GRACE_MS', () => {
    for (const { pod, container } of floodgates(render(dir))) {
      const config = loadConfig(environment(container, render(dir)));
      // A preStop hook runs before SIGTERM, so its time comes on top.
      const preStop: string[] | undefined = container.lifecycle?.preStop?.exec?.command;
      if (preStop) expect(preStop[0], 'a preStop hook other than sleep has no known duration').toBe('sleep');
      const preStopMs = preStop ? Number(preStop[1]) * 1000 : 0;
      expect(config.shutdownDrainMs, 'a drain, so calls routed here while the endpoint goes away still succeed').toBeGreaterThan(0);
      expect(pod.spec.terminationGracePeriodSeconds * 1000, 'terminationGracePeriodSeconds above preStop + SHUTDOWN_GRACE_MS').toBeGreaterThan(
        preStopMs + config.shutdownGraceMs,
      );
    }
  });

  it('mounts the policy ConfigMap as a directory and points POLICIES_FILE into it', () => {
    const objects = render(dir);
    for (const { pod, container } of floodgates(objects)) {
      const { policiesFile } = loadConfig(environment(container, objects));
      expect(policiesFile).toBeDefined();
      const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === dirname(policiesFile!));
      expect(mount, `a volume mounted at ${dirname(policiesFile!)}`).toBeDefined();
      // A subPath mount would never see ConfigMap updates.
      expect(mount.subPath).toBeUndefined();
      expect(mount.readOnly).toBe(true);
      const volume = pod.spec.volumes.find((v: { name: string }) => v.name === mount.name);
      const configMap = find(objects, 'ConfigMap', volume.configMap.name);
      expect(configMap?.data?.[basename(policiesFile!)]).toBeDefined();
    }
  });

  it('selects the right pods from every Service, PodDisruptionBudget and HorizontalPodAutoscaler', () => {
    const objects = render(dir);
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const targets = pods(objects).filter((p) => selects(service.spec.selector, p.labels));
      expect(targets, `pods of Service ${service.metadata.name}`).toHaveLength(1);
      const named = containers(targets[0]!).flatMap((c) => (c.ports ?? []).map((p: { name: string }) => p.name));
      for (const port of service.spec.ports) expect(named).toContain(port.targetPort);
    }
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      expect(pods(objects).filter((p) => selects(pdb.spec.selector.matchLabels, p.labels))).toHaveLength(1);
    }
    for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
      const target = find(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
      expect(target).toBeDefined();
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(target!.spec.replicas);
    }
  });

  it('points REDIS_URL at the dev Redis Service when the render includes one', () => {
    const objects = render(dir);
    const redis = find(objects, 'Service', 'redis');
    for (const { container } of floodgates(objects)) {
      const url = new URL(loadConfig(environment(container, objects)).redisUrl!);
      if (redis) {
        expect(url.hostname).toBe('redis');
        expect(Number(url.port)).toBe(redis.spec.ports[0].port);
      }
    }
  });
});

describe('deploy/base', () => {
  const objects = render(join(DEPLOY, 'base'));
  const deployment = find(objects, 'Deployment', 'floodgate')!;

  it('runs 3 replicas with native gRPC probes, a PodDisruptionBudget and an autoscaler', () => {
    expect(deployment.spec.replicas).toBe(3);
    const [container] = deployment.spec.template.spec.containers;
    expect(container.readinessProbe.grpc).toBeDefined();
    expect(container.livenessProbe.grpc).toBeDefined();
    expect(container.livenessProbe.grpc.service, 'liveness must not follow readiness').toBe(LIVENESS_SERVICE);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ConfigMap', 'Secret']));
  });

  it("ships the default policies in its policy file, which the server's parser accepts", () => {
    const file = find(objects, 'ConfigMap', 'floodgate-policies')!.data['policies.yaml'];
    expect(parsePolicies(file, 'policies.yaml')).toEqual(DEFAULT_POLICIES);
  });
});

describe('deploy/examples/sidecar', () => {
  const objects = render(join(DEPLOY, 'examples/sidecar'));
  const pod = pods(objects).find((p) => p.workload.metadata.name === 'example-app')!;

  it('runs Floodgate as a native sidecar on loopback, probed with grpc_health_probe from the image', () => {
    const [sidecar] = floodgates(objects).filter((f) => f.pod.workload === pod.workload);
    expect(sidecar!.container.restartPolicy).toBe('Always');
    expect(loadConfig(environment(sidecar!.container, objects)).grpcHost).toBe('127.0.0.1');
    const probe = parseCopy(parseDockerfile(join(ROOT, 'Dockerfile')).at(-1)!.instructions.find((i) => i.op === 'COPY' && i.args.includes('grpc-health-probe'))!.args);
    expect(`/bin/${sidecar!.container.readinessProbe.exec.command[0]}`).toBe(probe.dest);
  });

  it('gives the app the sidecar address on localhost', () => {
    const app = pod.spec.containers.find((c: Container) => c.name === 'app');
    expect(environment(app, objects).FLOODGATE_ADDRESS).toBe(`127.0.0.1:${DEFAULTS.grpcPort}`);
  });
});

describe('the manifests run against a real server', () => {
  let server: ServerProcess;
  const shipped = render(join(DEPLOY, 'base'));
  const container = find(shipped, 'Deployment', 'floodgate')!.spec.template.spec.containers[0];
  // What an operator does: put an admin token into the Secret.
  const TOKEN = 'deploy-test-admin-token';
  const base = structuredClone(shipped);
  find(base, 'Secret', 'floodgate-secrets')!.data['admin-tokens'] = Buffer.from(TOKEN).toString('base64');

  beforeAll(async () => {
    // The Deployment's environment, with the test's Redis, a free port and the policy file from
    // the repo in place of the mounted ConfigMap.
    server = await ServerProcess.start({
      ...environment(container, base),
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `deploy-${process.pid}-${Date.now()}:`,
      GRPC_PORT: '0',
      GRPC_HOST: '127.0.0.1',
      POLICIES_FILE: join(DEPLOY, 'config/policies.yaml'),
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('starts on Redis and reports SERVING to the health probe', async () => {
    expect(server.logs.join('\n')).toMatch(/connecting to Redis/);
    expect(await healthStatus(server.address)).toBe('SERVING');
  });

  it('keeps the admin API disabled as shipped, and enables it with the token put into the Secret', async () => {
    expect(loadConfig(environment(container, shipped)).adminTokens).toEqual([]);
    const withToken = createClient({ address: server.address, token: TOKEN, deadlineMs: 2_000 });
    const withoutToken = createClient({ address: server.address, deadlineMs: 2_000 });
    try {
      expect((await withToken.admin.getStoreStatus()).connected).toBe(true);
      await expect(withoutToken.admin.getStoreStatus()).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    } finally {
      withToken.close();
      withoutToken.close();
    }
  });

  it("runs the sidecar example's app command against it", async () => {
    const sidecar = pods(render(join(DEPLOY, 'examples/sidecar'))).find((p) => p.workload.metadata.name === 'example-app')!;
    const app = sidecar.spec.containers.find((c: Container) => c.name === 'app');
    const [command, ...args] = app.command as string[];
    expect(command).toBe('node');
    // The image's working directory is the repo root's counterpart (/app).
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, FLOODGATE_ADDRESS: server.address }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        proc.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        proc.once('exit', (code) => reject(new Error(`app exited with ${code}: ${err}`)));
      });
      const ai = DEFAULT_POLICIES.find((p) => p.name === 'ai')!;
      expect(JSON.parse(line)).toEqual({ allowed: true, reason: expect.anything(), remaining: ai.limit - 1 });
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
