/**
 * The project's markdown files and their fenced blocks, for the tests that
 * run the docs' examples (test/docs/examples.test.ts states the conventions)
 * and for the tests that check a block of their own (`checked-by=` names
 * them; they find it with blocksCheckedBy, wherever the page moves).
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Directories that hold no docs: dependencies, build output, and test data. */
const SKIP = new Set(['node_modules', 'dist', 'test']);

/** Every markdown file of the project, relative to its root: README.md, docs/, demo/, bench/, ... */
export function markdownFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || SKIP.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) out.push(relative(ROOT, path));
    }
  };
  walk(ROOT);
  return out.sort((a, b) => (a === 'README.md' ? -1 : b === 'README.md' ? 1 : a.localeCompare(b)));
}

export interface Block {
  /** The markdown file, relative to the repository. */
  readonly file: string;
  /** The info string's first word ('' for a fence without one). */
  readonly lang: string;
  /** Its other words without `=`, e.g. checked, not-checked. */
  readonly tags: ReadonlySet<string>;
  /** Its words with `=`, e.g. host=demo, checked-by=test/x.test.ts, grpcurl=1.8.7. */
  readonly attrs: ReadonlyMap<string, string>;
  readonly body: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The heading the block sits under. */
  readonly section: string;
}

/** The fenced blocks of one markdown text (``` or ~~~ fences, indented up to three spaces). */
export function fencedBlocks(file: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (heading) section = heading[1]!;
    const open = /^ {0,3}(`{3,}|~{3,})\s*(.*)$/.exec(line);
    if (!open) continue;
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    const indent = line.length - line.trimStart().length;
    while (++i < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[i]!)) body.push(lines[i]!.slice(Math.min(indent, lines[i]!.length - lines[i]!.trimStart().length)));
    const words = open[2]!.split(/\s+/).filter(Boolean);
    const [lang = '', ...rest] = words;
    blocks.push({
      file,
      lang,
      tags: new Set(rest.filter((w) => !w.includes('='))),
      attrs: new Map(rest.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)])),
      body: body.join('\n'),
      line: start + 1,
      section,
    });
  }
  return blocks;
}

/** The fenced blocks of every markdown file. */
export function docBlocks(): Block[] {
  return markdownFiles().flatMap((file) => fencedBlocks(file, readFileSync(join(ROOT, file), 'utf8')));
}

/** The blocks tagged `checked-by=<test>` (the test's path from the repository root), in page order. */
export function blocksCheckedBy(test: string): Block[] {
  return docBlocks().filter((b) => b.attrs.get('checked-by') === test);
}

/** file:line (section), for messages. */
export function where(b: Block): string {
  return `${b.file}:${b.line}${b.section ? ` (${b.section})` : ''}`;
}
