import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The built package, as a provider outside this repository requires it. */
const PACKAGE = join(__dirname, '..', '..', 'dist', 'index.js');

/** How a scripted provider process behaves. */
export interface ScriptedProvider {
  readonly type: string;
  readonly socket: string;
  /** vifplugd's target: register, and again after it restarts. */
  readonly register?: string;
  /** The type GetInfo names (default: `type`). */
  readonly servedType?: string;
  /** PreparePort answers after this long... */
  readonly prepareDelayMs?: number;
  /** ...unless vifplugd cancels the call first (it logs "cancelled <lport>"). */
  readonly honourCancel?: boolean;
  /** Init answers FAILED_PRECONDITION (reason NO_HARDWARE). */
  readonly initFails?: boolean;
}

/**
 * A provider process built with the SDK of the compiled package, scripted
 * by `ScriptedProvider`. It logs every callback to stdout, one line each
 * ("init", "open <id>", "prepare <lport>", "finish <lport> <handle>",
 * "destroyCtx <lport> <handle>", "close <id>", "destroy"), so that tests can
 * see what vifplugd asked of it.
 */
const SCRIPT = `
const { serveProvider, PlugError } = require(${JSON.stringify(PACKAGE)});
const cfg = JSON.parse(process.argv[1]);
const log = (line) => process.stdout.write(line + '\\n');
const wait = (ms, signal, lport) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(timer); log('cancelled ' + lport); resolve(); });
});
serveProvider({
  type: cfg.servedType || cfg.type,
  maintainedIfaceOptions: ['scripted-option'],
  version: 'scripted',
  init() { log('init'); if (cfg.initFails) throw new PlugError('FAILED_PRECONDITION', 'NO_HARDWARE', 'no NIC of mine on this host'); },
  destroy() { log('destroy'); },
  open(id) { log('open ' + id); },
  close(id) { log('close ' + id); },
  run() { return false; },
  async preparePort(ctxIn, call) {
    log('prepare ' + ctxIn.lportName);
    if (cfg.prepareDelayMs) await wait(cfg.prepareDelayMs, cfg.honourCancel ? call.signal : undefined, ctxIn.lportName);
    if (ctxIn.opType === 'remove') return { plug: true, handle: Buffer.from('rm:' + ctxIn.lportName) };
    return { plug: true, out: { name: ctxIn.lportName.slice(0, 15), type: 'internal', ifaceOptions: new Map([['scripted-option', 'on']]) }, handle: Buffer.from('h:' + ctxIn.lportName) };
  },
  finishPort(ctxIn, out, call) { log('finish ' + ctxIn.lportName + ' ' + call.handle.toString()); },
  destroyPortCtx(ctxIn, out, call) { log('destroyCtx ' + ctxIn.lportName + ' ' + call.handle.toString()); },
}, { socket: cfg.socket, register: cfg.register ? { daemon: cfg.register, maxBackoffMs: 300, onError: () => undefined, onRegistered: () => log('registered') } : undefined })
  .then((served) => {
    log('serving');
    process.once('SIGTERM', () => served.close().then(() => process.exit(0)));
  })
  .catch((err) => { process.stderr.write(String(err && err.stack || err) + '\\n'); process.exit(1); });
`;

export interface ProviderProcess {
  readonly proc: ChildProcess;
  /** Lines it printed so far. */
  readonly lines: string[];
  /** What it wrote to stderr so far. */
  readonly stderr: () => string;
  readonly exited: Promise<number | NodeJS.Signals>;
  /** Resolves once a line matching `pattern` is printed (now or later). */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/** Runs a scripted provider in its own process; resolves once it serves. */
export async function spawnProvider(cfg: ScriptedProvider): Promise<ProviderProcess> {
  return runProvider(process.execPath, ['-e', SCRIPT, JSON.stringify(cfg)], /^serving/);
}

/** Runs any provider program; resolves once it prints a line matching `ready`. */
export async function runProvider(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ProviderProcess> {
  const proc = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter((l) => l !== ''));
    for (const wake of waiters) wake();
  });
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal!)));
  const waitFor = (pattern: RegExp | string, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const test = (l: string) => (typeof pattern === 'string' ? l === pattern : pattern.test(l));
      const check = () => {
        const hit = lines.find(test);
        if (hit === undefined) return;
        done();
        resolve(hit);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(lines)}; stderr: ${stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exited.then(() => setTimeout(check, 10));
      check();
    });
  const started = waitFor(ready);
  const early = exited.then((code) => {
    throw new Error(`provider exited (${code}) before it was ready: ${stderr}`);
  });
  await Promise.race([started, early]);
  early.catch(() => undefined);
  return {
    proc,
    lines,
    stderr: () => stderr,
    exited,
    waitFor,
    stop: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
