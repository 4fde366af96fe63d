/**
 * The docs hold together: every relative link of every markdown page leads to
 * a file that exists and, with a #fragment, to a heading of it (anchors as
 * GitHub makes them); a page's sections are real headings, not bold run-in
 * phrases that nobody can link to.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT, markdownFiles } from '../helpers/docs';

/** The text outside fenced blocks, line by line (fenced lines become empty, so line numbers stay). */
function prose(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
      return '';
    }
    if (fence !== undefined) {
      if (new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(line)) fence = undefined;
      return '';
    }
    return line;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6} (.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

function links(file: string): Link[] {
  const out: Link[] = [];
  prose(readFileSync(join(ROOT, file), 'utf8')).forEach((text, i) => {
    // Inline code is not a link.
    for (const m of text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push({ file, line: i + 1, target: m[1]! });
  });
  return out;
}

const FILES = markdownFiles();

describe('links between pages', () => {
  it.each(FILES)('%s: every relative link leads somewhere', (file) => {
    const broken: string[] = [];
    for (const link of links(file)) {
      if (/^[a-z]+:/.test(link.target)) continue; // https:, mailto:
      const [path = '', fragment] = link.target.split('#');
      const target = path === '' ? file : normalize(join(dirname(file), path));
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${file}:${link.line}: ${link.target}: no such file ${target}`);
        continue;
      }
      if (fragment === undefined) continue;
      if (statSync(join(ROOT, target)).isDirectory() || !target.endsWith('.md')) {
        broken.push(`${file}:${link.line}: ${link.target}: a #fragment on something that is not a page`);
      } else if (!anchors(readFileSync(join(ROOT, target), 'utf8')).has(fragment)) {
        broken.push(`${file}:${link.line}: ${link.target}: ${target} has no heading #${fragment} (it has: ${[...anchors(readFileSync(join(ROOT, target), 'utf8'))].join(', ')})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every page of docs/ is reachable from the map (docs/README.md)', () => {
    const map = links('docs/README.md').map((l) => normalize(join('docs', l.target.split('#')[0]!)));
    const pages = FILES.filter((f) => f.startsWith('docs/') && f !== 'docs/README.md');
    expect(pages.filter((p) => !map.includes(p))).toEqual([]);
    expect(relative('docs', 'README.md')).toBe('../README.md');
  });

  it('computes anchors as GitHub does', () => {
    expect([...anchors('# The API\n## `--listen` and TLS\n## vifplug-ovn: 1,000 lports to up\n## Health\n## Health\n```\n# not a heading\n```')]).toEqual([
      'the-api',
      '--listen-and-tls',
      'vifplug-ovn-1000-lports-to-up',
      'health',
      'health-1',
    ]);
  });
});

describe('headings', () => {
  it.each(FILES)('%s: no paragraph opens with a bold run-in heading', (file) => {
    const lines = prose(readFileSync(join(ROOT, file), 'utf8'));
    const runIns = lines
      .map((line, i) => ({ line, i }))
      .filter(({ line, i }) => (i === 0 || lines[i - 1]!.trim() === '') && /^\*\*[^*]+\*\*/.test(line))
      .map(({ line, i }) => `${file}:${i + 1}: ${line.slice(0, 60)}`);
    expect(runIns).toEqual([]);
  });
});
