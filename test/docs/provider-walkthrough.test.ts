import { spawn, spawnSync } from 'node:child_process';

import { afterAll, expect, it } from 'vitest';

import { ROOT, blocksCheckedBy, where } from '../helpers/docs';
import { tempDir } from '../helpers/server';

// The provider authors' walkthrough (the blocks tagged checked-by= this file),
// run as a newcomer would run it: its sh blocks in order (what they start in
// the background keeps running), and each "$ command" of its console blocks,
// whose output must be the one shown. /run/vifplug becomes a temporary
// directory; ids and column padding may differ.

const dir = tempDir('vifplug-rd-');
const groups: number[] = [];

afterAll(() => {
  for (const pgid of groups) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        process.kill(-pgid, signal);
      } catch {
        // already gone
      }
    }
  }
  dir.remove();
});

const localise = (text: string) => text.replaceAll('/run/vifplug', dir.path);
const normalise = (text: string) =>
  text
    // An id may start or end with "-", where \b finds no word boundary.
    .replace(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])/g, '<id>')
    .split('\n')
    .map((line) => line.replace(/ {2,}/g, '  ').trimEnd())
    .join('\n')
    .trim();

/** Runs an sh block in its own process group, so that what it leaves running can be stopped at the end. */
function runBlock(block: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn('bash', ['-euo', 'pipefail', '-c', block], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    groups.push(proc.pid!);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => reject(new Error(`block did not finish in 20 s:\n${block}\n${stderr}`)), 20_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`block exited ${code}:\n${block}\n${stderr}`));
    });
  });
}

/** Runs each "$ command" of a console block and compares its output with the lines shown under it. */
function checkConsole(block: string): void {
  const steps = block.split(/^\$ /m).slice(1);
  for (const step of steps) {
    const [command, ...shown] = step.split('\n');
    const run = spawnSync('bash', ['-c', command!], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    expect(run.status, `${command}\n${run.stderr}`).toBe(0);
    expect(normalise(run.stdout)).toBe(normalise(shown.join('\n')));
  }
}

it('the provider walkthrough takes a newcomer from nothing to a registered provider plugging ports', async () => {
  const found = blocksCheckedBy('test/docs/provider-walkthrough.test.ts');
  expect(found.map((b) => b.lang), found.map(where).join(', ')).toEqual(['sh', 'console', 'sh', 'console']);
  expect(new Set(found.map((b) => b.file)).size, 'one page holds the whole walkthrough').toBe(1);
  const blocks = found.map((b) => ({ kind: b.lang, text: localise(b.body) }));
  for (const block of blocks) {
    if (block.kind === 'sh') await runBlock(block.text);
    else checkConsole(block.text);
  }
}, 60_000);
