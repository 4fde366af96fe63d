/**
 * Running commands for the CI stages and the container test: to completion
 * with their output kept for the error, or streamed to the terminal, always
 * under a time budget. A failure shows the command and the end of what it
 * printed, never just an exit code.
 */

import { spawn } from 'node:child_process';

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Show the output as it comes (a long stage's progress) as well as keeping it. */
  readonly stream?: boolean;
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // Kept to its end only: a streamed stage can print megabytes.
    const keep = (text: string, chunk: string) => (text.length > 1_000_000 ? text.slice(-500_000) : text) + chunk;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout = keep(stdout, chunk.toString());
      if (options.stream) process.stdout.write(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = keep(stderr, chunk.toString());
      if (options.stream) process.stderr.write(chunk);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[killed: still running after its budget of ${Math.round(options.timeoutMs! / 1000)} s]`;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** An error that shows the command and the end of its output. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly result: Result,
    hint = '',
  ) {
    super(`${command} exited with ${result.code}${hint === '' ? '' : `: ${hint}`}\n${describeOutput(result)}`);
  }
}

export function describeOutput(result: Result, maxChars = 6000): string {
  const tail = (label: string, text: string) => {
    const trimmed = text.trim();
    if (trimmed === '') return '';
    const cut = trimmed.length > maxChars ? `[...${trimmed.length - maxChars} characters before]\n${trimmed.slice(-maxChars)}` : trimmed;
    return `--- ${label} ---\n${cut}\n`;
  };
  return tail('stdout', result.stdout) + tail('stderr', result.stderr);
}

/** Runs a command and throws CommandError, with its output, unless it exits 0. */
export async function must(command: string, args: readonly string[], options: RunOptions & { hint?: string } = {}): Promise<Result> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new CommandError([command, ...args].join(' '), result, options.hint);
  return result;
}

/** A stage's log: each line stamped with the seconds since it began; `step` records how long each step took. */
export class StageLog {
  private readonly started = Date.now();
  private readonly steps: string[] = [];

  constructor(private readonly stage: string) {}

  line(text: string): void {
    process.stderr.write(`[${this.stage} +${((Date.now() - this.started) / 1000).toFixed(1)}s] ${text}\n`);
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.steps.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  /** One line: every step and its time, and the whole. */
  summary(): string {
    return `${this.stage}: ${this.steps.join(', ')}; ${((Date.now() - this.started) / 1000).toFixed(1)} s in all`;
  }
}
