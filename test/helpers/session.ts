/**
 * A console session in the docs, as the tests read and compare it (the
 * conventions are stated in test/docs/examples.test.ts, which runs most of
 * them; a test with a setup of its own runs its `checked-by=` session the same
 * way): `$ ` starts a command, the lines up to the next `$ ` are its output,
 * compared in shape (runs of spaces as one, `...` for any text, the daemon's
 * ids bound across commands).
 */

export interface Step {
  readonly command: string;
  readonly expected: string;
  /** The output ends without a newline: the next prompt follows its last line (`}$ echo $?`). */
  readonly unterminated: boolean;
}

/**
 * `$ ` commands with their output lines. `isCommand` tells whether the text
 * after a `$ ` that follows output on the same line is a command the session
 * runs (then the output before it has no final newline).
 */
export function steps(body: string, isCommand: (command: string) => boolean): Step[] {
  // A prompt after output on the same line: the output has no final newline.
  const lines: { text: string; glued?: boolean }[] = [];
  for (const text of body.split('\n')) {
    const glued = text.startsWith('$ ') ? null : /^(.*\S)\$ (.*)$/.exec(text);
    if (glued && isCommand(glued[2]!)) lines.push({ text: glued[1]!, glued: true }, { text: `$ ${glued[2]}` });
    else lines.push({ text });
  }
  const out: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.text.startsWith('$ ')) throw new Error(`expected a "$ " command, got: ${lines[i]!.text}`);
    let command = lines[i]!.text.slice(2);
    while (unfinished(command) && i + 1 < lines.length) command += `\n${lines[++i]!.text}`;
    const expected: { text: string; glued?: boolean }[] = [];
    while (i + 1 < lines.length && !lines[i + 1]!.text.startsWith('$ ')) expected.push(lines[++i]!);
    while (expected.length > 0 && expected[expected.length - 1]!.text.trim() === '') expected.pop();
    out.push({ command, expected: expected.map((l) => l.text).join('\n'), unterminated: expected[expected.length - 1]?.glued === true });
  }
  return out;
}

function unfinished(command: string): boolean {
  if (command.endsWith('\\')) return true;
  let quote = '';
  for (const ch of command) {
    if (quote === '' && (ch === "'" || ch === '"')) quote = ch;
    else if (ch === quote) quote = '';
  }
  return quote !== '';
}

/** Shell words: quotes, $NAME expansion outside single quotes, # comments, \ line continuations. */
export function words(command: string, vars: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote = '';
  const text = command.replace(/\\\n/g, ' ');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = '';
      else word += ch;
      continue;
    }
    if (ch === '$' && /[A-Za-z_?]/.test(text[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*|^\?/.exec(text.slice(i + 1))![0];
      word = (word ?? '') + (vars.get(name) ?? '');
      i += name.length;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = '';
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (ch === '#' && word === undefined) {
      break;
    } else if (/\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** An id in the docs: what the daemon hands out (ctx-id.ts: 24 characters of base64url), with a digit and a letter. */
export const ID = /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,23}[0-9])(?=[A-Za-z0-9_-]{0,23}[A-Za-z])[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])/g;

function normalise(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').trimEnd())
    .join('\n')
    .trim();
}

/**
 * Whether `actual` has the shape of `expected`; binds the docs' ids in
 * `expected` to the real ones (into `ids`) on success.
 */
export function matchShape(expected: string, actual: string, ids: Map<string, string>): boolean {
  const groups: string[] = [];
  let pattern = '';
  const exp = normalise(expected);
  let last = 0;
  const tokens = /(^\.\.\.$)|\.\.\.|(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,23}[0-9])(?=[A-Za-z0-9_-]{0,23}[A-Za-z])[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])/gm;
  for (const m of exp.matchAll(tokens)) {
    pattern += escape(exp.slice(last, m.index));
    const token = m[0];
    if (token === '...') pattern += m[1] !== undefined ? '[\\s\\S]*?' : '.*?';
    else if (ids.has(token)) pattern += escape(ids.get(token)!);
    else {
      const known = groups.indexOf(token);
      pattern += known >= 0 ? `\\k<id${known}>` : `(?<id${groups.push(token) - 1}>[A-Za-z0-9_-]{24})`;
    }
    last = m.index + token.length;
  }
  pattern += escape(exp.slice(last));
  const found = new RegExp(`^${pattern}$`).exec(normalise(actual));
  if (found === null) return false;
  groups.forEach((token, i) => ids.set(token, found.groups![`id${i}`]!));
  return true;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
