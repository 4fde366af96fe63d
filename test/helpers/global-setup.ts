import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that spawn vifplugd run the compiled daemon, so compile it once per
 * run. Type errors do not stop the emit and are `npm run typecheck`'s to
 * report (npm test runs it first); only a missing compiler fails here.
 */
export default function setup(): void {
  const root = join(__dirname, '..', '..');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.error) throw tsc.error;
}
