/**
 * The Python SDK provider (python_provider.py, answering as the dummy does)
 * in a process of its own, for the python family: this forked child starts
 * it with the python the family names and python/ on PYTHONPATH, hands its
 * endpoint back, and stops it with SIGTERM when asked to exit or when the
 * bench goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { serveParent } from '../lib/ipc';
import { REPO } from '../lib/paths';

let python: ChildProcess | undefined;

function stop(): Promise<void> {
  const proc = python;
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

process.on('disconnect', () => python?.kill('SIGKILL'));

serveParent({
  start(arg: { dir: string; type: string; python: string }): Promise<{ endpoint: string; pid: number }> {
    const proc = spawn(arg.python, [join(REPO, 'bench', 'servers', 'python_provider.py'), arg.type, join(arg.dir, `${arg.type}.sock`)], {
      env: { PATH: process.env.PATH, PYTHONPATH: join(REPO, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    python = proc;
    return new Promise((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const serving = /^serving (\S+)$/m.exec(out);
        if (serving) resolve({ endpoint: serving[1]!, pid: proc.pid! });
      });
      proc.once('exit', (code, signal) => reject(new Error(`the Python provider exited (${code ?? signal}) before it served`)));
    });
  },

  async beforeExit() {
    await stop();
  },
});
