import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that spawn vifplugd run the compiled daemon, and the TypeScript
 * example provider runs against the compiled package, so compile both once
 * per run. Type errors do not stop the emit and are `npm run typecheck`'s to
 * report (npm test runs it first); only a missing compiler fails here.
 */
export default function setup(): void {
  const root = join(__dirname, '..', '..');
  for (const project of ['tsconfig.build.json', join('examples', 'typescript')]) {
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: root, stdio: 'inherit' });
    if (tsc.error) throw tsc.error;
  }
}
