/**
 * The fresh-machine stage: the README's test command, run from a clean clone
 * of this checkout's HEAD, as root inside a pristine Debian bookworm
 * container (minbase, git, ca-certificates, Node 20 and its npm; apt and the
 * npm registry reachable). Whatever the tests need and the command does not
 * install fails here, however well a developer's machine is furnished.
 *
 * The command is read from the README, so that what is proven is what the
 * README promises.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';

import { hostCaBundle } from './podman';
import { IMAGES, podmanHere, prepareImages, ROOT } from './images';
import { StageLog } from './process';

/** The whole run's budget: apt, npm ci and the suite on a slow 2-core machine, with room. */
const BUDGET_MS = 50 * 60_000;

/** The README's test command: the shell line of its first code block that runs `npm test`, comment removed. */
export function readmeTestCommand(readme: string): string {
  let inFence = false;
  for (const line of readme.split('\n')) {
    if (/^\s*```/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) continue;
    const command = line.replace(/\s+#.*$/, '').trim();
    if (/(^|&&\s*)npm test$/.test(command)) return command;
  }
  throw new Error('README.md shows no test command (a code line ending in `npm test`)');
}

async function main(): Promise<number> {
  const log = new StageLog('fresh machine');
  const command = readmeTestCommand(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
  if (dirty !== '') log.line('note: the checkout has uncommitted changes; the clone tests HEAD only');
  const { podman, work, done } = await podmanHere(log);
  try {
    await prepareImages(['fresh'], podman, work, log);
    const ca = hostCaBundle();
    const script = ['set -eu', 'git clone -q /src /root/vifplug', 'cd /root/vifplug', `echo "# $(git log -1 --format='%h %s')"`, `echo '$ ${command}'`, command].join('\n');
    log.line(`running \`${command}\` in a clean clone, as root in ${IMAGES.fresh}`);
    const result = await log.step('clone and test', () =>
      podman.run(
        [
          'run',
          '--rm',
          // apt and the npm registry are reached as the host reaches them.
          '--network=host',
          // A machine's /dev/shm is a tmpfs of half its memory, not a container's 64 MiB.
          `--shm-size=${Math.floor(totalmem() / 2 / 2 ** 20)}m`,
          '--volume',
          `${ROOT}:/src:ro`,
          // Our machines only: their registry traffic passes a TLS-intercepting proxy (see hostCaBundle).
          ...(ca === undefined ? [] : ['--volume', `${ca}:/host-ca.crt:ro`, '--env', 'NODE_EXTRA_CA_CERTS=/host-ca.crt']),
          IMAGES.fresh,
          'bash',
          '-c',
          script,
        ],
        { stream: true, timeoutMs: BUDGET_MS },
      ),
    );
    log.line(log.summary());
    if (result.code !== 0) {
      log.line(`the README's test command failed on a fresh machine (exit ${result.code}); its output is above`);
      return 1;
    }
    return 0;
  } finally {
    done();
  }
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`fresh machine: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
