import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface Instruction {
  readonly line: number;
  /** Upper-case: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** Index of the stage (FROM) it belongs to; -1 before the first FROM. */
  readonly stage: number;
}

/** The instructions of a Dockerfile: comments dropped, `\` continuations joined. */
export function readDockerfile(path = join(ROOT, 'Dockerfile')): Instruction[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Instruction[] = [];
  let stage = -1;
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let text = lines[i]!.trim();
    if (text === '' || text.startsWith('#')) continue;
    while (text.endsWith('\\') && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      if (next.startsWith('#')) continue;
      text = `${text.slice(0, -1).trimEnd()} ${next}`;
    }
    const m = /^(\S+)\s*(.*)$/.exec(text)!;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ line: start, keyword, args: m[2]!, stage });
  }
  return out;
}

/** The instructions of the final stage. */
export function finalStage(instructions: readonly Instruction[]): Instruction[] {
  const last = Math.max(...instructions.map((i) => i.stage));
  return instructions.filter((i) => i.stage === last);
}

/** An exec-form argument (`["a", "b"]`) as an array. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed as string[];
}

/** ENV instructions as a map (`ENV A=1 B=2` form). */
export function envOf(instructions: readonly Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of instructions.filter((i) => i.keyword === 'ENV')) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      env.set(m[1]!, m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!);
    }
  }
  return env;
}

/** COPY instructions of the final stage: sources (context or stage paths), destination, --from. */
export function copiesOf(instructions: readonly Instruction[]): { from?: string; sources: string[]; dest: string; line: number }[] {
  return instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { ...(from === undefined ? {} : { from }), sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
    });
}

/** The absolute path in the image that a COPY puts `source` at (WORKDIR resolved). */
export function imagePathOf(instructions: readonly Instruction[], source: string): string | undefined {
  let workdir = '/';
  for (const ins of instructions) {
    if (ins.keyword === 'WORKDIR') workdir = ins.args.startsWith('/') ? ins.args : join(workdir, ins.args);
    if (ins.keyword !== 'COPY') continue;
    const [copy] = copiesOf([ins]);
    if (copy!.from !== undefined || !copy!.sources.includes(source)) continue;
    const dest = copy!.dest.startsWith('/') ? copy!.dest : join(workdir, copy!.dest);
    // COPY a/b.js dir/  -> dir/b.js; COPY a/b.js dir/b.js -> itself.
    return dest.endsWith('/') ? join(dest, source.split('/').at(-1)!) : dest;
  }
  return undefined;
}
