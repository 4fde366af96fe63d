import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { tempDir } from './helpers/server';

// The README's "Writing a provider" section, run as a newcomer would run it:
// its sh blocks in order (what they start in the background keeps running),
// and each "$ command" of its console blocks, whose output must be the one
// shown. /run/vifplug and examples/python/gen become temporary directories;
// ids and column padding may differ.

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

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

function section(title: string): string {
  const start = README.indexOf(`## ${title}\n`);
  expect(start, `README has a "${title}" section`).toBeGreaterThanOrEqual(0);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

const localise = (text: string) => text.replaceAll('/run/vifplug', dir.path).replaceAll('examples/python/gen', join(dir.path, 'gen'));
const normalise = (text: string) =>
  text
    .replace(/\b[A-Za-z0-9_-]{24}\b/g, '<id>')
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

it('the "Writing a provider" section takes a newcomer from nothing to a registered provider plugging ports', async () => {
  const blocks = [...section('Writing a provider').matchAll(/```(sh|console)[^\n]*\n([\s\S]*?)```/g)].map((m) => ({ kind: m[1]!, text: localise(m[2]!) }));
  expect(blocks.map((b) => b.kind)).toEqual(['sh', 'console', 'sh', 'console']);
  for (const block of blocks) {
    if (block.kind === 'sh') await runBlock(block.text);
    else checkConsole(block.text);
  }
}, 60_000);
