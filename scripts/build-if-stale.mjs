#!/usr/bin/env node
// Compiles src/ into dist/ (tsc -p tsconfig.build.json) only when a source
// changed since the last build, and says so when it does: `npm start` and
// `npm run demo` then start at once on an unchanged tree, instead of spending
// 20 s or more in tsc without a word.
//
// "Changed" is any difference in the list of inputs (src/, the tsconfigs, the
// lock file) with their sizes and modification times, kept in
// dist/.build-inputs after a successful build; a deleted source counts too.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampPath = join(root, 'dist', '.build-inputs');

function inputs() {
  const files = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => join(root, f));
  for (const entry of readdirSync(join(root, 'src'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return files
    .filter((file) => existsSync(file))
    .map((file) => {
      const st = statSync(file);
      return `${relative(root, file)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

const fingerprint = createHash('sha256').update(inputs().join('\n')).digest('hex');
const previous = existsSync(stampPath) ? readFileSync(stampPath, 'utf8').trim() : '';
if (previous === fingerprint && existsSync(join(root, 'dist', 'cli', 'vifplugd.js'))) process.exit(0);

process.stderr.write(`${previous === '' ? 'building' : 'sources changed: rebuilding'} dist/ from src/ (tsc, 20 s or more on a small machine)...\n`);
const t0 = Date.now();
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (tsc.error !== undefined || tsc.status !== 0) {
  process.stderr.write(`the build failed (${tsc.error?.message ?? `tsc exited with ${tsc.status}`}); fix the errors above, or run \`npm ci\` if node_modules is missing\n`);
  process.exit(1);
}
writeFileSync(stampPath, `${fingerprint}\n`);
process.stderr.write(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
