/**
 * Kubernetes manifests checked against the Kubernetes API's own schema, with
 * no cluster: the models of the npm package kubernetes-models, generated from
 * the API's OpenAPI document, in two ways.
 *
 * - validate(): the JSON schema of each kind (types, enums such as a
 *   hostPath type, required fields, formats);
 * - the package's TypeScript declarations of the same schema, which the
 *   TypeScript compiler holds an object literal to: a field the API does not
 *   have is an error there, as it is for `kubectl apply` (strict field
 *   validation), while the JSON schema lets it pass.
 */

import { join } from 'node:path';

import ts from 'typescript';

import type { Yaml } from './parse';

const ROOT = join(__dirname, '..', '..');

interface Manifest {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
}

/** Where kubernetes-models keeps a kind: `v1` -> kubernetes-models/v1, `apps/v1` -> kubernetes-models/apps/v1. */
function modelModule(apiVersion: string): string {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) throw new Error(`"${apiVersion}" is not an apiVersion`);
  return `kubernetes-models/${apiVersion}`;
}

function identify(doc: Yaml): { apiVersion: string; kind: string } {
  const m = doc as Manifest;
  if (typeof m?.apiVersion !== 'string' || typeof m.kind !== 'string') throw new Error('a manifest without apiVersion or kind');
  return { apiVersion: m.apiVersion, kind: m.kind };
}

/** The JSON schema's complaints about a manifest, one line each; [] when it is valid. */
export function schemaErrors(doc: Yaml): string[] {
  const { apiVersion, kind } = identify(doc);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const models = require(modelModule(apiVersion)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[kind];
  if (Model === undefined) return [`${apiVersion} has no kind ${kind}`];
  try {
    new Model(JSON.parse(JSON.stringify(doc))).validate();
    return [];
  } catch (err) {
    return (err as Error).message.split('\n').filter((line) => line.trim() !== '');
  }
}

/**
 * Fields the API does not know, and values of the wrong shape, as the
 * TypeScript compiler finds them in each manifest written as an object
 * literal of the kind's declared type. One line per finding, naming the
 * manifest and the field; [] when there is none.
 */
export function typeErrors(docs: readonly Yaml[], names: readonly string[] = docs.map((_, i) => `manifest ${i}`)): string[] {
  const file = join(ROOT, 'test', 'deploy', '__manifests__.ts');
  const lines: string[] = [];
  const owner: string[] = [];
  docs.forEach((doc, i) => {
    const { apiVersion, kind } = identify(doc);
    lines.push(`import type { I${kind} as T${i} } from '${modelModule(apiVersion)}/${kind}';`);
    owner.push(names[i]!);
  });
  const firstLine: number[] = [];
  docs.forEach((doc, i) => {
    firstLine.push(lines.length);
    lines.push(...`export const m${i} = ${JSON.stringify(doc, null, 2)} satisfies T${i};`.split('\n'));
  });
  const text = `${lines.join('\n')}\n`;

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) => (name === file ? ts.createSourceFile(name, text, language) : read(name, language, onError));
  host.fileExists = ((exists) => (name: string) => name === file || exists(name))(host.fileExists.bind(host));
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((d) => {
    const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
    const index = firstLine.findLastIndex((start) => start <= line);
    const where = index < 0 ? 'imports' : `${owner[index]}: ${lines[line]!.trim()}`;
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
