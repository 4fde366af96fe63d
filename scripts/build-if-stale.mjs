#!/usr/bin/env node
// Compiles a TypeScript project only when a source changed since its last
// build, and says so when it does: `npm start`, `npm run demo` and
// `npm run demo:ovn` then start at once on an unchanged tree, instead of
// spending 20 s or more in tsc without a word.
//
//   node scripts/build-if-stale.mjs            src/ into dist/ (tsconfig.build.json)
//   node scripts/build-if-stale.mjs demo/ovn   the OVN demo into node_modules/.cache/vifplug-demo-ovn
//
// "Changed" is any difference in the list of inputs (the project's sources,
// the tsconfigs, the lock file) with their sizes and modification times, kept
// in the output directory's .build-inputs after a successful build; a deleted
// source counts too.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What can be built: its tsconfig, its source directory, where it goes, and a file the build must leave. */
const PROJECTS = {
  dist: { tsconfig: 'tsconfig.build.json', sources: 'src', out: 'dist', entry: 'cli/vifplugd.js', what: 'dist/ from src/', cost: '20 s or more' },
  'demo/ovn': { tsconfig: 'demo/ovn/tsconfig.json', sources: 'demo/ovn', out: 'node_modules/.cache/vifplug-demo-ovn', entry: 'main.js', what: 'the OVN demo (demo/ovn)', cost: 'a few seconds' },
};

const name = process.argv[2] ?? 'dist';
const project = PROJECTS[name];
if (project === undefined || process.argv.length > 3) {
  process.stderr.write(`usage: build-if-stale.mjs [${Object.keys(PROJECTS).filter((p) => p !== 'dist').join('|')}] (no argument: dist/ from src/)\n`);
  process.exit(2);
}
const stampPath = join(root, project.out, '.build-inputs');

function inputs() {
  const files = ['tsconfig.json', project.tsconfig, 'package-lock.json'].map((f) => join(root, f));
  for (const entry of readdirSync(join(root, project.sources), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return [...new Set(files)]
    .filter((file) => existsSync(file))
    .map((file) => {
      const st = statSync(file);
      return `${relative(root, file)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

const fingerprint = createHash('sha256').update(inputs().join('\n')).digest('hex');
const previous = existsSync(stampPath) ? readFileSync(stampPath, 'utf8').trim() : '';
if (previous === fingerprint && existsSync(join(root, project.out, project.entry))) process.exit(0);

process.stderr.write(`${previous === '' ? 'building' : 'sources changed: rebuilding'} ${project.what} (tsc, ${project.cost} on a small machine)...\n`);
const t0 = Date.now();
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project.tsconfig], { cwd: root, stdio: 'inherit' });
if (tsc.error !== undefined || tsc.status !== 0) {
  process.stderr.write(`the build failed (${tsc.error?.message ?? `tsc exited with ${tsc.status}`}); fix the errors above, or run \`npm ci\` if node_modules is missing\n`);
  process.exit(1);
}
writeFileSync(stampPath, `${fingerprint}\n`);
process.stderr.write(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
