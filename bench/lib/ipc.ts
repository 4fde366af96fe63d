/**
 * Request/response over the IPC channel of a forked child. Imports nothing but
 * Node built-ins: the bare baseline server uses it and must load no vifplug code.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly arg: unknown;
}

type Reply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

export type Handlers = Record<string, (arg: any) => unknown>;

/** What every bench child answers besides its own commands. */
export interface ProcessReport {
  /** process.cpuUsage(): user + system microseconds since start. */
  readonly cpuMicros: number;
  /** process.hrtime.bigint() / 1000 as a number: the clock of --cpu-prof timestamps. */
  readonly hrMicros: number;
  readonly heapUsed: number;
  readonly rss: number;
}

export function processReport(): ProcessReport {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return { cpuMicros: cpu.user + cpu.system, hrMicros: Number(process.hrtime.bigint() / 1000n), heapUsed: mem.heapUsed, rss: mem.rss };
}

/** Child side: answers the parent's requests until told to exit. */
export function serveParent(handlers: Handlers): void {
  const all: Handlers = {
    report: () => processReport(),
    gc: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return processReport();
    },
    exit: async () => {
      await handlers['beforeExit']?.(undefined);
      // Reply first; process.exit still writes a --cpu-prof profile.
      setImmediate(() => process.exit(0));
      return true;
    },
    ...handlers,
  };
  process.on('message', (message: Request) => {
    void (async () => {
      let reply: Reply;
      try {
        const handler = all[message.cmd];
        if (handler === undefined) throw new Error(`unknown command ${message.cmd}`);
        reply = { id: message.id, ok: true, result: await handler(message.arg) };
      } catch (err) {
        reply = { id: message.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      process.send!(reply);
    })();
  });
  // The parent died: do not linger.
  process.on('disconnect', () => process.exit(0));
}

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  call<T = unknown>(cmd: string, arg?: unknown): Promise<T>;
  /** Asks the child to exit (profiles are written), kills it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ForkOptions {
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** Forks a bench child (compiled JS); stdout is discarded (the daemon logs there), stderr is shown. */
export function forkChild(name: string, script: string, options: ForkOptions = {}): Child {
  const proc = fork(script, [], {
    execArgv: [...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  let next = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${name}: ${reply.error}`));
  });
  proc.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (${code ?? signal}) with a request pending`));
    pending.clear();
  });
  return {
    name,
    proc,
    call<T>(cmd: string, arg?: unknown): Promise<T> {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.reject(new Error(`${name} is not running`));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        proc.send({ id, cmd, arg } satisfies Request);
      });
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      try {
        await this.call('exit').catch(() => undefined);
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
