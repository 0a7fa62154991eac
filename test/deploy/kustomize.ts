import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** A Kubernetes object as kustomize emits it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: any;
}

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  files?: string[];
  literals?: string[];
  type?: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  generatorOptions?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
}

/** The kustomization fields this renderer implements; anything else is an error, never ignored. */
const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'secretGenerator', 'generatorOptions']);

/**
 * Renders a kustomization directory the way `kubectl kustomize` does, for the subset of
 * features the manifests in deploy/ use. Used where kubectl is not installed; where it is,
 * the tests check both agree.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  for (const field of Object.keys(k)) {
    if (!SUPPORTED.has(field)) throw new Error(`${dir}: kustomization field "${field}" is not supported by this renderer`);
  }
  const objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      objects.push(...renderKustomization(path));
    } else {
      objects.push(...parseObjects(readFileSync(insideRoot(dir, path), 'utf8')));
    }
  }
  const options = k.generatorOptions ?? {};
  const generators = [
    ...(k.configMapGenerator ?? []).map((g) => ({ g, kind: 'ConfigMap' as const })),
    ...(k.secretGenerator ?? []).map((g) => ({ g, kind: 'Secret' as const })),
  ];
  if (generators.length > 0 && options.disableNameSuffixHash !== true) {
    throw new Error(`${dir}: name suffix hashes are not implemented; set generatorOptions.disableNameSuffixHash`);
  }
  for (const { g, kind } of generators) generate(dir, kind, g, options.labels, objects);

  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) throw new Error(`${dir}: ${id} defined twice`);
    seen.add(id);
  }
  return objects;
}

function generate(dir: string, kind: 'ConfigMap' | 'Secret', g: Generator, labels: Record<string, string> | undefined, objects: K8sObject[]): void {
  const data: Record<string, string> = {};
  for (const file of g.files ?? []) {
    const [key, path] = file.includes('=') ? (file.split('=', 2) as [string, string]) : [basename(file), file];
    data[key] = readFileSync(insideRoot(dir, resolve(dir, path)), 'utf8');
  }
  for (const literal of g.literals ?? []) {
    const eq = literal.indexOf('=');
    if (eq <= 0) throw new Error(`${dir}: literal "${literal}" is not key=value`);
    data[literal.slice(0, eq)] = literal.slice(eq + 1);
  }
  const encoded = kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')])) : data;
  const existing = objects.find((o) => o.kind === kind && o.metadata.name === g.name);
  const behavior = g.behavior ?? 'create';
  if (behavior === 'create') {
    if (existing) throw new Error(`${dir}: ${kind}/${g.name} exists; use behavior merge or replace`);
    const object: K8sObject = { apiVersion: 'v1', kind, metadata: { name: g.name, ...(labels ? { labels: { ...labels } } : {}) }, data: encoded };
    if (kind === 'Secret') object.type = g.type ?? 'Opaque';
    objects.push(object);
    return;
  }
  if (!existing) throw new Error(`${dir}: ${kind}/${g.name} to ${behavior} does not exist`);
  existing.data = behavior === 'merge' ? { ...existing.data, ...encoded } : encoded;
}

/** kustomize's default load restriction: files must sit under the kustomization's directory. */
function insideRoot(dir: string, path: string): string {
  const rel = relative(dir, path);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`${dir}: ${path} is outside the kustomization root`);
  return path;
}

function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function objectId(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

/** Every directory under root holding a kustomization.yaml. */
export function kustomizationDirs(root: string): string[] {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, 'kustomization.yaml'))) dirs.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
  };
  walk(root);
  return dirs.sort();
}

/** `kubectl kustomize` output, or undefined when kubectl is not on the PATH. */
export function kubectlKustomize(dir: string): K8sObject[] | undefined {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseObjects(out);
}
