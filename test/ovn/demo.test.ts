/**
 * `npm run demo:ovn` as a person runs it, with docs/ovn.md's OVN session
 * typed against it: the real command, in a process group of its own as a
 * terminal runs a foreground job; what it prints compared with what the docs
 * show; each command of the session run by a real shell after sourcing the
 * `env` file the demo printed, its output compared as the docs tests compare
 * it (test/helpers/session.ts); then Ctrl-C (SIGINT to the group) must stop
 * every process the demo started, by pid, and remove its directory. A SIGTERM
 * during start-up must leave nothing behind either, nor a daemon that died.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { ROOT, blocksCheckedBy, where, type Block } from '../helpers/docs';
import { PROCESS_WAIT, descendants, isRunning, processesWith } from '../helpers/processes';
import { matchShape, steps } from '../helpers/session';

/** Where the demo may spend minutes: building dist/ and itself on a cold tree of a loaded 2-core machine. */
const START_MS = 300_000;
/** How long a command of the session is repeated until it shows what the docs show (the agent and ovn-controller act meanwhile). */
const SETTLE_MS = 15_000;

/** What the session's commands are, for a prompt glued to output (none of these outputs is). */
const SESSION_COMMANDS = new Set(['npm', 'vifplugctl', 'vifplug-ovn', 'ovn-nbctl', 'ovs-vsctl']);
const isCommand = (command: string) => SESSION_COMMANDS.has(command.split(/\s/)[0] ?? '');

interface DemoRun {
  readonly proc: ChildProcess;
  readonly stdout: () => string;
  readonly output: () => string;
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** `npm run demo:ovn` in the repository, as a terminal's foreground job: a process group of its own. */
function startDemo(): DemoRun {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_update_notifier: 'false' };
  if (process.env.VIFPLUG_TEST_DEPS !== undefined) env.VIFPLUG_TEST_DEPS = process.env.VIFPLUG_TEST_DEPS;
  const proc = spawn('npm', ['run', 'demo:ovn'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
    output += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal!)));
  return { proc, stdout: () => stdout, output: () => output, exited };
}

/** Waits until the demo's stdout matches `pattern`; fails with its output if it exits first or the deadline passes. */
async function waitOutput(run: DemoRun, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  let exit: number | NodeJS.Signals | undefined;
  void run.exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = pattern.exec(run.stdout());
    if (found !== null) return found;
    if (exit !== undefined) throw new Error(`npm run demo:ovn exited (${exit}) before printing ${pattern}:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`npm run demo:ovn did not print ${pattern} within ${timeoutMs / 1000} s:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stops a demo a test left running (Ctrl-C, then SIGKILL to the group). */
async function ensureStopped(run: DemoRun | undefined): Promise<void> {
  if (run === undefined || run.proc.exitCode !== null || run.proc.signalCode !== null) return;
  process.kill(-run.proc.pid!, 'SIGINT');
  const timedOut = await Promise.race([run.exited.then(() => false), new Promise((resolve) => setTimeout(() => resolve(true), 30_000))]);
  if (timedOut) process.kill(-run.proc.pid!, 'SIGKILL');
}

/** `command` typed into a shell that sourced `envFile`: its stdout and stderr, and its exit code. */
function typeCommand(envFile: string, command: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    const sh = spawn('/bin/sh', ['-c', `. '${envFile}'\n${command}`], { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    sh.stdout.on('data', (c: Buffer) => (out += c.toString()));
    sh.stderr.on('data', (c: Buffer) => (out += c.toString()));
    sh.on('close', (code) => resolve({ out, code }));
  });
}

/** The pids in the demo directory's pid files (every daemon's). */
function pidFiles(dir: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.pid'))) pids.set(file, Number(readFileSync(join(dir, file), 'utf8').trim()));
  return pids;
}

describe("npm run demo:ovn, and docs/ovn.md's OVN session typed against it", () => {
  const blocks = blocksCheckedBy('test/ovn/demo.test.ts');
  let demo: DemoRun | undefined;
  let dir = '';
  let envFile = '';

  beforeAll(async () => {
    demo = startDemo();
    await waitOutput(demo, /^Ctrl-C here .*$/m, START_MS);
    envFile = (await waitOutput(demo, /^ {2}\. (\/\S+\/env)$/m, 0))[1]!;
    dir = join(envFile, '..');
  }, START_MS + 10_000);
  afterAll(() => ensureStopped(demo), 60_000);

  it('has the two blocks of docs/ovn.md: starting the demo, and the session', () => {
    expect(blocks.map((b) => `${b.lang} ${b.section}`)).toEqual(['console Try it with `npm run demo:ovn`', 'console Try it with `npm run demo:ovn`']);
  });

  it('prints what the docs show: where everything is, and the line to type in a second terminal', () => {
    const [start] = steps(blocks[0]!.body, isCommand);
    expect(start!.command).toBe('npm run demo:ovn');
    // The docs show one run's directory; this run has its own.
    const docsDir = /\/tmp\/vifplug-ovn-demo-[A-Za-z0-9]+/.exec(start!.expected)![0];
    expect(dir).toMatch(/^\/tmp\/vifplug-ovn-demo-[A-Za-z0-9]{6}$/);
    const shown = demo!.stdout().split(dir).join(docsDir);
    expect(matchShape(start!.expected, shown, new Map()), `${where(blocks[0]!)}\n--- the docs show:\n${start!.expected}\n--- got:\n${shown}`).toBe(true);
    // The env file says where everything is, as the docs list it.
    const env = readFileSync(envFile, 'utf8');
    for (const name of ['OVN_NB_DB', 'OVN_SB_DB', 'OVS_RUNDIR', 'OVN_RUNDIR', 'VIFPLUG_SOCKET', 'VIFPLUG_OVN_STATUS_SOCKET', 'PATH']) expect(env).toMatch(new RegExp(`^export ${name}=`, 'm'));
  });

  it('runs the session as shown: each command, in order, typed into a shell that sourced the env file', async () => {
    const block: Block = blocks[1]!;
    for (const step of steps(block.body, isCommand)) {
      let got = { out: '', code: null as number | null };
      const deadline = Date.now() + SETTLE_MS;
      for (;;) {
        got = await typeCommand(envFile, step.command);
        if (matchShape(step.expected, got.out, new Map()) && (got.out === '' || got.out.endsWith('\n'))) break;
        if (Date.now() > deadline) {
          throw new Error(`${where(block)}\n$ ${step.command}\n--- the docs show:\n${step.expected}\n--- got (exit ${got.code}):\n${got.out}\n--- the agent's log:\n${tailOf(join(dir, 'vifplug-ovn.log'))}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(got.code, `$ ${step.command}`).toBe(0);
    }
  }, 120_000);

  it('stops every process it started, each by its pid, and removes its directory on Ctrl-C', async () => {
    const daemons = pidFiles(dir);
    expect([...daemons.keys()].sort()).toEqual(
      ['ovn-controller', 'ovn-northd', 'ovnnb_db', 'ovnsb_db', 'ovs-vswitchd', 'ovsdb-server', 'vifplug-ovn', 'vifplugd'].map((d) => `${d}.pid`),
    );
    // npm, the demo, vifplugd with its devlink and ip monitors, the agent; and the daemons OVS and OVN detached.
    const pids = [demo!.proc.pid!, ...descendants(demo!.proc.pid!), ...daemons.values()];
    for (const pid of pids) expect(isRunning(pid), `pid ${pid}`).toBe(true);
    expect(processesWith(dir).length).toBeGreaterThanOrEqual(daemons.size);

    // Ctrl-C: the terminal signals the whole foreground group.
    process.kill(-demo!.proc.pid!, 'SIGINT');
    expect(await demo!.exited).toBe(0);
    expect(demo!.stdout()).toMatch(new RegExp(`^SIGINT: stopping everything\\.\\.\\.\\nstopped; ${dir} removed\\n$`, 'm'));
    await vi.waitFor(() => expect(pids.filter(isRunning)).toEqual([]), PROCESS_WAIT);
    expect(processesWith(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

describe('npm run demo:ovn, when things go otherwise', () => {
  let demo: DemoRun | undefined;
  afterEach(() => ensureStopped(demo), 60_000);

  it('stops what it started so far on SIGTERM during start-up (npm passes it on), and removes its directory', async () => {
    demo = startDemo();
    const dir = (await waitOutput(demo, /^starting OVN and OVS in user space under (\/tmp\/vifplug-ovn-demo-[A-Za-z0-9]+) \.\.\.$/m, START_MS))[1]!;
    process.kill(demo.proc.pid!, 'SIGTERM');
    expect(await demo.exited).toBe(0);
    expect(demo.stdout()).toContain(`SIGTERM: stopping everything...\nstopped; ${dir} removed\n`);
    expect(demo.stdout()).not.toContain('In a second terminal');
    await vi.waitFor(() => expect(processesWith(dir)).toEqual([]), PROCESS_WAIT);
    expect(existsSync(dir)).toBe(false);
  }, START_MS + 60_000);

  it('says so when one of its daemons dies (kill -9 of the agent), runs on, and still stops the rest', async () => {
    demo = startDemo();
    const envFile = (await waitOutput(demo, /^ {2}\. (\/\S+\/env)$/m, START_MS))[1]!;
    const dir = join(envFile, '..');
    const agent = pidFiles(dir).get('vifplug-ovn.pid')!;
    process.kill(agent, 'SIGKILL');
    await waitOutput(demo, new RegExp(`^vifplug-ovn \\(pid ${agent}\\) exited \\(SIGKILL\\); the rest runs on`, 'm'), 10_000);
    expect((await typeCommand(envFile, 'vifplugctl health')).out).toBe('SERVING\n');
    process.kill(-demo.proc.pid!, 'SIGINT');
    expect(await demo.exited).toBe(0);
    await vi.waitFor(() => expect(processesWith(dir)).toEqual([]), PROCESS_WAIT);
    expect(existsSync(dir)).toBe(false);
  }, START_MS + 60_000);
});

function tailOf(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(none)';
}
