import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Tests that spawn vifplugd run the compiled daemon, so compile it once per run. */
export default function setup(): void {
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
