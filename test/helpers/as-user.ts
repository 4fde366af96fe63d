/**
 * The compiled programs as another user can run them. Tests that drop to an
 * unprivileged user (nobody, when the tests run as root) start the programs
 * as that user, who may not be able to read the checkout: a clone in /root
 * (mode 0700 on Debian) is closed to everyone else, and node then fails with
 * MODULE_NOT_FOUND before the program under test runs at all. In that case
 * the package is laid out once, as `npm install` would install it (its
 * package.json, dist/ and production dependencies), in a temporary directory
 * anyone can read; otherwise the checkout itself serves.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const CHECKOUT = join(__dirname, '..', '..');

let copy: string | undefined;

/** Whether `uid` can read `file` (and so every directory on its way). */
function readableBy(uid: number, gid: number, file: string): boolean {
  const probe = spawnSync(process.execPath, ['-e', 'require("fs").accessSync(process.argv[1], require("fs").constants.R_OK)', file], { uid, gid, stdio: 'ignore' });
  return probe.status === 0;
}

/** Lays out the package in a directory anyone can read; once per test process. */
function readableCopy(): string {
  if (copy !== undefined) return copy;
  const dir = mkdtempSync(join(tmpdir(), 'vifplug-as-user-'));
  chmodSync(dir, 0o755);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(CHECKOUT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(CHECKOUT, 'dist'), join(dir, 'dist'), { recursive: true });
  // The production dependencies, where npm put them (only top-level paths: nested ones come with their parent).
  const paths = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: CHECKOUT, encoding: 'utf8' })
    .split('\n')
    .map((p) => relative(CHECKOUT, p))
    .filter((p) => p.startsWith(`node_modules${sep}`) && !p.slice('node_modules/'.length).includes(`${sep}node_modules${sep}`));
  for (const path of paths) cpSync(join(CHECKOUT, path), join(dir, path), { recursive: true });
  copy = dir;
  return dir;
}

/**
 * The path of a compiled program of this checkout (e.g. dist/cli/vifplugd.js)
 * that `uid` can run: the checkout's own file when that user can read it, the
 * same file in a readable copy of the package otherwise.
 */
export function programFor(uid: number, gid: number, program: string): string {
  if (readableBy(uid, gid, program)) return program;
  return join(readableCopy(), relative(CHECKOUT, program));
}
