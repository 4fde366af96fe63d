import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that spawn vifplugd run the compiled daemon, and the TypeScript
 * example provider runs against the compiled package, so compile both once
 * per run: dist/ through scripts/build-if-stale.mjs, as `npm start` and the
 * demos do, which skips an unchanged tree and leaves its stamp, so that
 * `npm run demo:ovn` started by a test does not compile dist/ again while
 * other tests run it. Type errors do not stop the emit and are
 * `npm run typecheck`'s to report (npm test runs it first); only a missing
 * compiler fails here.
 */
export default function setup(): void {
  const root = join(__dirname, '..', '..');
  const builds = [
    [join(root, 'scripts', 'build-if-stale.mjs')],
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join('examples', 'typescript')],
  ];
  for (const args of builds) {
    const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    if (build.error) throw build.error;
  }
}
