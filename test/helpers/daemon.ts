import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import type { LogLine } from './server';

export const DAEMON = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugd.js');

export interface Daemon {
  readonly proc: ChildProcess;
  readonly logs: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the exit code (or the signal that killed it). */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/** Runs the compiled vifplugd (or another of the package's programs) as an operator would; resolves once it logs that it serves (or exits). */
export async function spawnDaemon(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { waitForServing?: boolean; nodeArgs?: string[]; script?: string; readyMessage?: string } = {},
): Promise<Daemon> {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script ?? DAEMON, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let partial = '';
  let onLine: (() => void) | undefined;
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 'raw', msg: line });
      }
    }
    onLine?.();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal!));
  });
  if (options.waitForServing ?? true) {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (logs.some((l) => l.msg === (options.readyMessage ?? 'vifplugd serving'))) resolve();
      };
      onLine = check;
      void exited.then((code) => reject(new Error(`${options.script ?? 'vifplugd'} exited (${code}) before serving: ${stderr}${JSON.stringify(logs)}`)));
      check();
    });
  }
  return {
    proc,
    logs,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs vifplugd to completion (for flags that make it exit at once). */
export async function runDaemon(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [DAEMON, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | NodeJS.Signals>((resolve) => proc.on('exit', (c, s) => resolve(c ?? s!)));
  return { code, stdout, stderr };
}
