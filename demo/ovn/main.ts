/**
 * `npm run demo:ovn`: a whole OVN chassis around the simulated DPU of
 * demo/dpu, ready for docs/ovn.md's session to be typed in another terminal.
 *
 * Everything runs under one temporary directory, with no systemd and without
 * root: the OVN sandbox (sandbox.ts, the one the tests run: OVS with its
 * dummy datapath, the NB and SB databases, ovn-northd, ovn-controller as
 * chassis hv1) with the logical switch sw0; vifplugd on the DPU host, as
 * `npm run demo` starts it; and vifplug-ovn between them. vifplugd and the
 * agent are the compiled programs in dist/, started as an operator starts
 * them. The directory gets an `env` file for the other terminal to source
 * (the sandbox's variables, the sockets, and a bin/ with the package's
 * programs on PATH, as `npm install -g` would put them).
 *
 * SIGINT (Ctrl-C: the terminal sends it to npm and to this process, npm
 * forwards it too) or SIGTERM stops everything, each process by its pid, the
 * agent first, and removes the directory; also when it comes during start-up.
 * The daemons run in process groups of their own, so that the terminal's
 * Ctrl-C reaches only this process, which stops them in order.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';

import { isRunning } from './processes';
import { OvnSandbox } from './sandbox';

const CHASSIS = 'hv1';
const SWITCH = 'sw0';
/** The vif-plug-type docs/ovn.md uses: one Debian's ovn-controller (built with ovn-vif) does not serve itself. */
const TYPES = 'vifplug-representor=representor';
const PROGRAMS = ['vifplugd', 'vifplugctl', 'vifplug-ovn'] as const;
/** How long a daemon may take to be ready on a loaded two-core machine, and to stop. */
const READY_MS = 60_000;
const STOP_MS = 10_000;

/** Thrown where start-up gives way to a stop signal. */
class Stopped extends Error {}

/** A daemon of the package, started by this process in a process group of its own. */
interface Program {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly log: string;
  readonly exited: Promise<void>;
}

class Demo {
  readonly dir = mkdtempSync('/tmp/vifplug-ovn-demo-');
  readonly vifplugSocket = join(this.dir, 'vifplug.sock');
  readonly statusSocket = join(this.dir, 'vifplug-ovn.sock');
  readonly envFile = join(this.dir, 'env');
  sandbox: OvnSandbox | undefined;
  private readonly programs: Program[] = [];
  private signal: NodeJS.Signals | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly root: string) {
    // The last resort if this process dies without stopping them (the sandbox kills its own).
    process.on('exit', () => {
      for (const p of this.programs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    });
  }

  /** A stop signal arrived: start-up gives way at its next step, a running demo stops. */
  requestStop(signal: NodeJS.Signals): void {
    if (this.signal === undefined) say(`${signal}: stopping everything...`);
    this.signal ??= signal;
    this.wake?.();
  }

  private checkStop(): void {
    if (this.signal !== undefined) throw new Stopped();
  }

  async start(): Promise<void> {
    say(`starting OVN and OVS in user space under ${this.dir} ...`);
    this.sandbox = await OvnSandbox.start({ dir: this.dir, chassis: CHASSIS });
    this.checkStop();
    await this.sandbox.nbctl('ls-add', SWITCH);
    this.writeShellFiles();
    this.checkStop();

    const dpu = join(this.root, 'demo', 'dpu');
    const vifplugd = this.startProgram('vifplugd', [
      '--listen', `unix://${this.vifplugSocket}`,
      '--sysfs-root', join(dpu, 'sys'),
      '--devlink-bin', join(dpu, 'bin', 'devlink'),
      '--ip-bin', join(dpu, 'bin', 'ip'),
    ]);
    await this.waitFor(vifplugd, 'to serve', async () => logLines(vifplugd.log).some((l) => l.msg === 'vifplugd serving') || 'not serving yet');

    const agent = this.startProgram('vifplug-ovn', [
      '--socket', this.vifplugSocket,
      '--ovs-db', this.sandbox.ovsDb,
      '--types', TYPES,
      '--status-socket', this.statusSocket,
    ]);
    // Connected to both databases, with a complete view, and nothing it waits for.
    await this.waitFor(agent, 'to connect to OVS and the Southbound DB', async () => {
      const status = await agentStatus(this.statusSocket).catch((err: Error) => err);
      if (status instanceof Error) return `no status: ${status.message}`;
      return (status.connected.ovs && status.connected.sb && status.complete && status.waiting.length === 0) || `its status: ${JSON.stringify(status)}`;
    });
  }

  /** Starts dist/cli/<name>.js, its output into <dir>/<name>.log and its pid into <dir>/<name>.pid. */
  private startProgram(name: string, args: string[]): Program {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    // The demo's flags say where everything is: variables from an earlier `. env` must not say otherwise.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VIFPLUG')));
    const proc = spawn(process.execPath, [join(this.root, 'dist', 'cli', `${name}.js`), ...args], { detached: true, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const program = { name, proc, log, exited };
    this.programs.push(program);
    void exited.then(() => this.wake?.());
    if (proc.pid !== undefined) writeFileSync(join(this.dir, `${name}.pid`), `${proc.pid}\n`);
    return program;
  }

  /**
   * Polls `ready` (true, or what it saw instead) until it holds; fails if the
   * program exits or the deadline passes, and gives way to a stop signal.
   */
  private async waitFor(program: Program, what: string, ready: () => Promise<true | string>): Promise<void> {
    const deadline = Date.now() + READY_MS;
    for (;;) {
      this.checkStop();
      if (program.proc.exitCode !== null || program.proc.signalCode !== null) {
        throw new Error(`${program.name} exited (${program.proc.exitCode ?? program.proc.signalCode}) before it was ready; the end of ${program.log}:\n${tail(program.log)}`);
      }
      const seen = await ready();
      if (seen === true) return;
      if (Date.now() > deadline) {
        throw new Error(`${program.name} did not manage ${what} within ${READY_MS / 1000} s (${seen}); the end of ${program.log}:\n${tail(program.log)}`);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** `env` to source in another shell, and bin/ with the package's programs. */
  private writeShellFiles(): void {
    const bin = join(this.dir, 'bin');
    mkdirSync(bin);
    for (const name of PROGRAMS) {
      const file = join(bin, name);
      writeFileSync(file, `#!/bin/sh\nexec ${shq(process.execPath)} ${shq(join(this.root, 'dist', 'cli', `${name}.js`))} "$@"\n`);
      chmodSync(file, 0o755);
    }
    const vars: [string, string][] = [
      ...Object.entries(this.sandbox!.env).filter((e): e is [string, string] => e[0] !== 'PATH' && e[1] !== undefined),
      ['VIFPLUG_SOCKET', this.vifplugSocket],
      ['VIFPLUG_OVN_STATUS_SOCKET', this.statusSocket],
    ];
    writeFileSync(
      this.envFile,
      [
        `# npm run demo:ovn (pid ${process.pid}): source this file in another shell (. ${this.envFile})`,
        '# to point ovn-nbctl, ovs-vsctl, vifplugctl and vifplug-ovn at the demo.',
        ...vars.map(([key, value]) => `export ${key}=${shq(value)}`),
        `export PATH=${shq(bin)}:"$PATH"`,
        '',
      ].join('\n'),
    );
  }

  /** Where everything is, and what to type. */
  async banner(): Promise<string> {
    const sandbox = this.sandbox!;
    const version = await sandbox.run('ovn-nbctl', ['--version']);
    const ovn = /^ovn-nbctl (\S+)/m.exec(version)?.[1] ?? '';
    const ovs = /^Open vSwitch Library (\S+)/m.exec(version)?.[1] ?? '';
    const [vifplugd, agent] = this.programs;
    const representors = spawnSync(process.execPath, [join(this.root, 'dist', 'cli', 'vifplugctl.js'), '--socket', this.vifplugSocket, 'representors'], { encoding: 'utf8' });
    return [
      '',
      `The OVN demo runs, everything under ${this.dir}:`,
      `  OVN ${ovn} and OVS ${ovs} in user space: the NB and SB databases, ovn-northd, ovs-vswitchd (dummy datapath) and`,
      `    ovn-controller as chassis ${sandbox.chassis} (bridge br-int), with the logical switch ${SWITCH}`,
      `  vifplugd on the simulated DPU of demo/dpu (pid ${vifplugd!.proc.pid}), on ${this.vifplugSocket}`,
      `  vifplug-ovn --types ${TYPES} (pid ${agent!.proc.pid}), status on ${this.statusSocket}`,
      `  logs: ${this.dir}/*.log`,
      '',
      'What the DPU offers (vifplugctl representors):',
      ...(representors.stdout + representors.stderr).trimEnd().split('\n').map((line) => `  ${line}`),
      '',
      'In a second terminal, point the tools at the demo:',
      '',
      `  . ${this.envFile}`,
      '',
      'then type the session of docs/ovn.md ("From nothing to a plugged port").',
      `Ctrl-C here (or kill ${process.pid}) stops everything and removes ${this.dir}.`,
      '',
    ].join('\n');
  }

  /**
   * Waits for a stop signal. A daemon that exits meanwhile (a crash, or a
   * `kill -9` to see how the others cope) is reported, and the rest runs on.
   */
  async run(): Promise<void> {
    const reported = new Set<Program>();
    while (this.signal === undefined) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      for (const p of this.programs) {
        if (reported.has(p) || (p.proc.exitCode === null && p.proc.signalCode === null) || this.signal !== undefined) continue;
        reported.add(p);
        say(`${p.name} (pid ${p.proc.pid}) exited (${p.proc.exitCode ?? p.proc.signalCode}); the rest runs on, Ctrl-C stops it. The end of ${p.log}:\n${tail(p.log, 5)}`);
      }
    }
  }

  /** Stops the agent, vifplugd, then the sandbox (which removes the directory); true when every process left by itself. */
  async stop(): Promise<boolean> {
    let clean = true;
    for (const program of [...this.programs].reverse()) {
      const { proc } = program;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timedOut = await Promise.race([program.exited.then(() => false), sleep(STOP_MS).then(() => true)]);
        if (timedOut) {
          say(`${program.name} (pid ${proc.pid}) did not stop within ${STOP_MS / 1000} s of SIGTERM: killing it`);
          proc.kill('SIGKILL');
          await program.exited;
          clean = false;
        }
      }
    }
    if (this.sandbox !== undefined) await this.sandbox.stop();
    rmSync(this.dir, { recursive: true, force: true });
    return clean && this.programs.every((p) => p.proc.pid === undefined || !isRunning(p.proc.pid));
  }
}

/** The agent's status, as `vifplug-ovn status` reads it (GET /status on its socket). */
function agentStatus(socketPath: string): Promise<{ connected: { ovs: boolean; sb: boolean }; complete: boolean; waiting: unknown[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** A daemon's JSON log lines (others skipped). */
function logLines(file: string): { msg?: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { msg?: string }];
      } catch {
        return [];
      }
    });
}

function tail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no log)';
}

/** A word for sh, single-quoted. */
function shq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The repository: the directory above this file holding the package.json of vifplug (wherever the demo is compiled to). */
function packageRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'vifplug') return dir;
  }
  throw new Error(`no package.json of vifplug above ${__dirname}`);
}

async function main(): Promise<number> {
  const root = packageRoot();
  for (const name of PROGRAMS) {
    if (!existsSync(join(root, 'dist', 'cli', `${name}.js`))) {
      process.stderr.write(`demo:ovn: dist/cli/${name}.js is missing: run it as \`npm run demo:ovn\`, which builds it\n`);
      return 1;
    }
  }
  const demo = new Demo(root);
  process.on('SIGINT', () => demo.requestStop('SIGINT'));
  process.on('SIGTERM', () => demo.requestStop('SIGTERM'));
  let failed: Error | undefined;
  try {
    await demo.start();
    say(await demo.banner());
    await demo.run();
  } catch (err) {
    if (!(err instanceof Stopped)) failed = err as Error;
  }
  if (failed !== undefined) process.stderr.write(`demo:ovn: ${failed.message}\nstopping everything...\n`);
  const clean = await demo.stop();
  say(`stopped; ${demo.dir} removed`);
  return failed === undefined && clean ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo:ovn: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
