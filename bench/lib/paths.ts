import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the first directory above this file with a package.json. */
function findRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export const REPO = findRoot();
/** Where `tsc -p bench/tsconfig.json` writes bench/ and src/ (bench/dist/bench, bench/dist/src). */
export const BENCH_DIST = join(REPO, 'bench', 'dist');
/** Compiled bench scripts (the entry points forked as children). */
export const BENCH_JS = join(BENCH_DIST, 'bench');
/** The product compiled with the bench: the copy every bench process loads. */
export const SRC_JS = join(BENCH_DIST, 'src');
export const RESULTS = join(REPO, 'bench', 'results');
/** The daemon as `npm run build` compiles it (the start-up case runs it as an operator would). */
export const DAEMON_JS = join(REPO, 'dist', 'cli', 'vifplugd.js');
