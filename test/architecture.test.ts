/**
 * The import rules of docs/architecture.md, held: the table of parts is read
 * from the page, every import of every file under src/ (import, import type,
 * export ... from, require(), import(), and import('...') in types) is
 * resolved, and the test fails on an import the table does not allow, a
 * package a part may not use, or a cycle: between parts, or between files.
 * Each failure names the file, the import and the rule. Also: every source
 * file opens with a comment saying what it is for.
 */

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const PAGE = 'docs/architecture.md';
const RULES_HEADING = '## Import rules';

interface Part {
  /** "src/server/" or "src/daemon.ts". */
  readonly path: string;
  readonly mayImport: ReadonlySet<string>;
  readonly packages: ReadonlySet<string>;
}

/** The table under RULES_HEADING: | `part` | what it is for | `may import`, ... | `packages`, ... | */
function readRules(): Part[] {
  const text = readFileSync(join(ROOT, PAGE), 'utf8');
  const start = text.indexOf(`\n${RULES_HEADING}\n`);
  if (start < 0) throw new Error(`${PAGE} has no "${RULES_HEADING}" section`);
  const section = text.slice(start + RULES_HEADING.length + 2).split('\n## ')[0]!;
  const parts: Part[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 4 || !/^`src\//.test(cells[0]!)) continue;
    const names = (cell: string) => new Set([...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    parts.push({ path: names(cells[0]!).values().next().value!, mayImport: names(cells[2]!), packages: names(cells[3]!) });
  }
  return parts;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

interface Import {
  /** As written. */
  readonly specifier: string;
  readonly line: number;
}

/** Every module a file names: static and dynamic imports, re-exports, require(), type-only imports and import types. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (node: ts.Node | undefined) => {
    if (node !== undefined && ts.isStringLiteralLike(node)) found.push({ specifier: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names (a .js specifier names its .ts source). */
function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier.replace(/\.js$/, ''));
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

function packageOf(specifier: string): string {
  const [scope, name] = specifier.split('/');
  return specifier.startsWith('@') ? `${scope}/${name}` : scope!;
}

const rel = (file: string) => relative(ROOT, file);

const parts = readRules();
const files = sourceFiles(join(ROOT, 'src')).sort();

function partOf(file: string): Part | undefined {
  const path = rel(file);
  return parts.filter((p) => (p.path.endsWith('/') ? path.startsWith(p.path) : path === p.path)).sort((a, b) => b.path.length - a.path.length)[0];
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
  readonly line: number;
}

const edges: Edge[] = [];
const packageUses: { file: string; specifier: string; line: number }[] = [];
const unresolved: string[] = [];
for (const file of files) {
  for (const { specifier, line } of importsOf(file)) {
    if (specifier.startsWith('.')) {
      const to = resolveImport(file, specifier);
      if (to === undefined) unresolved.push(`${rel(file)}:${line} imports '${specifier}', which names no file`);
      else edges.push({ from: file, to, specifier, line });
    } else {
      packageUses.push({ file, specifier, line });
    }
  }
}

/** Strongly connected components of more than one node (or a node importing itself), by Tarjan's algorithm. */
function cycles<N>(nodes: readonly N[], next: (node: N) => readonly N[]): N[][] {
  let counter = 0;
  const index = new Map<N, number>();
  const low = new Map<N, number>();
  const stack: N[] = [];
  const onStack = new Set<N>();
  const found: N[][] = [];
  const connect = (v: N): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: N[] = [];
      let w: N;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next(v).includes(v)) found.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node)) connect(node);
  return found;
}

/** Whether the file's first line of code (after a #! line) opens a comment. */
function opensWithComment(file: string): boolean {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#!') && l.trim() !== '');
  return /^\s*(\/\*\*|\/\/)/.test(lines[0] ?? '');
}

describe('every source file', () => {
  it('opens with a comment saying what it is for (generated code aside)', () => {
    const written = files.filter((f) => !rel(f).startsWith('src/gen/'));
    expect(written.filter((f) => !opensWithComment(f)).map(rel)).toEqual([]);
  });
});

describe(`the import rules of ${PAGE}`, () => {
  it('has a table naming every part of src/, each once, and nothing that is not there', () => {
    expect(parts.length).toBeGreaterThan(5);
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const part of parts) {
      if (seen.has(part.path)) problems.push(`${part.path} has two rows`);
      seen.add(part.path);
      if (!existsSync(join(ROOT, part.path))) problems.push(`${part.path} is in the table but not in the tree`);
      for (const other of part.mayImport) if (!parts.some((p) => p.path === other)) problems.push(`${part.path} may import ${other}, which is no part of the table`);
    }
    for (const file of files) if (partOf(file) === undefined) problems.push(`${rel(file)} is in no part of the table: add its folder (or the file) to ${PAGE}`);
    expect(problems).toEqual([]);
  });

  it('every relative import names a file', () => {
    expect(unresolved).toEqual([]);
  });

  it('every import between parts is one the table allows', () => {
    const broken: string[] = [];
    for (const { from, to, specifier, line } of edges) {
      const a = partOf(from)!;
      const b = partOf(to)!;
      if (a === b || a.mayImport.has(b.path)) continue;
      const allowed = a.mayImport.size === 0 ? 'nothing outside itself' : [...a.mayImport].join(', ');
      broken.push(`${rel(from)}:${line} imports '${specifier}' (${rel(to)}, part ${b.path}); the rule of ${a.path} is: it may import ${allowed}`);
    }
    expect(broken).toEqual([]);
  });

  it('every package a part uses is one its row lists (node:* always)', () => {
    const broken: string[] = [];
    for (const { file, specifier, line } of packageUses) {
      if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      const part = partOf(file)!;
      const name = packageOf(specifier);
      if (!part.packages.has(name)) {
        const allowed = part.packages.size === 0 ? 'no package' : [...part.packages].join(', ');
        broken.push(`${rel(file)}:${line} imports package '${specifier}'; the rule of ${part.path} is: ${allowed}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('has no cycle between parts', () => {
    const byPart = new Map<string, Map<string, Edge>>();
    for (const edge of edges) {
      const a = partOf(edge.from)!.path;
      const b = partOf(edge.to)!.path;
      if (a === b) continue;
      const out = byPart.get(a) ?? new Map<string, Edge>();
      if (!out.has(b)) out.set(b, edge);
      byPart.set(a, out);
    }
    const found = cycles(
      parts.map((p) => p.path),
      (p) => [...(byPart.get(p)?.keys() ?? [])],
    );
    const described = found.map((cycle) => {
      const members = new Set(cycle);
      const ties = cycle.flatMap((a) => [...(byPart.get(a) ?? [])].filter(([b]) => members.has(b)).map(([b, e]) => `${a} -> ${b} (${rel(e.from)}:${e.line} imports '${e.specifier}')`));
      return `a cycle between ${cycle.join(', ')}: ${ties.join('; ')}`;
    });
    expect(described).toEqual([]);
  });

  it('has no cycle between files, type-only imports included', () => {
    const next = new Map<string, string[]>();
    for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
    const found = cycles(files, (f) => next.get(f) ?? []);
    const described = found.map((cycle) => {
      const members = new Set(cycle);
      const ties = edges.filter((e) => members.has(e.from) && members.has(e.to)).map((e) => `${rel(e.from)}:${e.line} imports '${e.specifier}'`);
      return `files that import each other: ${ties.join('; ')}`;
    });
    expect(described).toEqual([]);
  });

  it('names only paths that exist', () => {
    const text = readFileSync(join(ROOT, PAGE), 'utf8');
    const named = new Set([...text.matchAll(/`(src\/[^`\s]*)`/g)].map((m) => m[1]!));
    // A folder's files named in a list after it: `src/x/` (`a.ts`, `b.ts`).
    for (const m of text.matchAll(/`(src\/[^`\s]*\/)` \(([^)]*)\)/g)) for (const f of m[2]!.matchAll(/`([\w.-]+\.ts)`/g)) named.add(`${m[1]}${f[1]}`);
    expect([...named].filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });
});
