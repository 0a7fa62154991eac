import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../support/server-process.js';
import { objectId, type K8sObject } from './kustomize.js';

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
  if (!load) throw new Error(`${objectId(o)}: no schema loaded for apiVersion ${o.apiVersion}`);
  const Kind = ((await load()) as Models)[o.kind];
  if (!Kind) throw new Error(`${objectId(o)}: ${o.apiVersion} has no kind ${o.kind}`);
  try {
    new Kind(o).validate();
  } catch (err) {
    throw new Error(`${objectId(o)}: ${(err as Error).message}`);
  }
}

/**
 * Fields the Kubernetes API does not know (a misspelt `readOnlyRootFileSystem` passes the JSON
 * schemas, which allow extra properties, and the API server would drop it): each object is
 * type-checked as an object literal of its kubernetes-models interface, so TypeScript's excess
 * property check names every unknown field. Returns one message per problem.
 */
export function unknownFields(objects: K8sObject[]): string[] {
  // A virtual module beside the tests, so kubernetes-models resolves from the repo.
  const file = join(ROOT, 'test/deploy/rendered-objects.ts');
  const source = objects
    .map((o, i) => `export const o${i}: import('kubernetes-models/${o.apiVersion}').I${o.kind} = ${JSON.stringify(o)};`)
    .join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sourceFile).map((d) => {
    const line = d.start === undefined ? -1 : sourceFile.getLineAndCharacterOfPosition(d.start).line;
    const where = objects[line] ? objectId(objects[line]!) : 'rendered objects';
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
