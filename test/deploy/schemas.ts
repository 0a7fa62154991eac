import type { K8sObject } from './kustomize.js';

interface Model {
  validate(): void;
}
type Models = Record<string, (new (data: object) => Model) | undefined>;

/** The API groups the manifests use, mapped to their kubernetes-models modules (JSON schemas). */
const MODELS: Record<string, () => Promise<unknown>> = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'autoscaling/v2': () => import('kubernetes-models/autoscaling/v2'),
};

/** Throws unless the object is valid against the Kubernetes schema of its apiVersion and kind. */
export async function validateObject(o: K8sObject): Promise<void> {
  const load = MODELS[o.apiVersion];
  if (!load) throw new Error(`${o.kind}/${o.metadata.name}: no schema loaded for apiVersion ${o.apiVersion}`);
  const Kind = ((await load()) as Models)[o.kind];
  if (!Kind) throw new Error(`${o.kind}/${o.metadata.name}: ${o.apiVersion} has no kind ${o.kind}`);
  try {
    new Kind(o).validate();
  } catch (err) {
    throw new Error(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
  }
}
