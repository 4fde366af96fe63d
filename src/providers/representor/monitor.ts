/**
 * Long-running event sources: `devlink monitor port` and `ip -o monitor link`
 * as child processes (no shell). Their output only says "something changed";
 * the provider then re-reads everything, so the parsing here is deliberately
 * minimal and a garbled line can at worst cause one extra refresh.
 *
 * A child that dies is restarted with exponential backoff (events may have
 * been lost meanwhile, so a restart also asks for a refresh). A missing
 * executable or a kernel without the facility is logged once and given up:
 * the periodic resync, Run and lookup misses still keep the index current.
 * A child that keeps dying is logged on its first death and then once per
 * minute with the count, not on every restart.
 *
 * Each child runs supervised (supervised-process.ts): stop() ends its whole
 * process group, and the group dies with the daemon even on SIGKILL.
 */

import type { ChildProcess } from 'node:child_process';

import type { Logger } from 'pino';

import { Backoff } from '../../common/backoff';
import { NO_DEVLINK_NETLINK } from './devlink';
import { describeExit, exitCause, spawnSupervised, type SupervisedProcess } from './supervised-process';

/** A long-running command whose output lines say that something changed. */
export interface MonitorCommand {
  /** For logs, e.g. "devlink monitor". */
  readonly name: string;
  readonly bin: string;
  readonly args: readonly string[];
  /** Whether an output line reports a change. */
  readonly isEvent: (line: string) => boolean;
  /** stderr text meaning the facility is missing (restarting cannot help). */
  readonly isUnsupported: (stderr: string) => boolean;
}

/** What a monitor tells, and how it paces restarts. */
export interface MonitorHooks {
  readonly onEvent: () => void;
  /** Called after a restart: events may have been lost while the child was down. */
  readonly onRestart: () => void;
  readonly logger: Logger;
  readonly restartDelayMs?: number;
  readonly maxRestartDelayMs?: number;
}

/** The iproute2 monitors the representor provider follows. */
export function iproute2Monitors(bins: { readonly devlinkBin: string; readonly ipBin: string }): MonitorCommand[] {
  return [
    {
      name: 'devlink monitor',
      bin: bins.devlinkBin,
      args: ['monitor', 'port'],
      // Text form: "[port,new] pci/...: ..." headers, indented continuation lines.
      isEvent: (line) => line.includes('[port,'),
      isUnsupported: (stderr) => NO_DEVLINK_NETLINK.test(stderr),
    },
    {
      name: 'ip link monitor',
      bin: bins.ipBin,
      args: ['-o', 'monitor', 'link'],
      isEvent: (line) => line.trim() !== '',
      isUnsupported: (stderr) => /Cannot open netlink socket/i.test(stderr),
    },
  ];
}

/** A line longer than this is not a monitor event line; it is dropped (and counted as a change). */
export const MAX_LINE_BYTES = 64 * 1024;
const MAX_STDERR_BYTES = 4 * 1024;
const STOP_GRACE_MS = 2_000;

export type MonitorState = 'idle' | 'running' | 'waiting' | 'given-up' | 'stopped';

/** A crash-looping child is reported at most this often (with the count of deaths between). */
const DEATH_LOG_INTERVAL_MS = 60_000;

export class ProcessMonitor {
  private child: ChildProcess | undefined;
  private proc: SupervisedProcess | undefined;
  private deathsUnlogged = 0;
  private lastDeathLogAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly restarts: Backoff;
  private startedAt = 0;
  private started = false;
  private _state: MonitorState = 'idle';

  constructor(
    private readonly command: MonitorCommand,
    private readonly hooks: MonitorHooks,
  ) {
    const maxMs = hooks.maxRestartDelayMs ?? 60_000;
    // A child that ran longer than the longest wait was healthy: its death starts the backoff over.
    this.restarts = new Backoff({ minMs: hooks.restartDelayMs ?? 1_000, maxMs, resetAfterMs: maxMs });
  }

  get state(): MonitorState {
    return this._state;
  }

  /** The running child's pid (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this._state !== 'idle') return;
    this.launch();
  }

  /** Stops the child (SIGTERM, then SIGKILL) and any pending restart. */
  async stop(): Promise<void> {
    this._state = 'stopped';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const child = this.child;
    const proc = this.proc;
    this.child = this.proc = undefined;
    if (child === undefined || proc === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => proc.signal('KILL'), STOP_GRACE_MS);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.signal('TERM');
    });
  }

  private launch(): void {
    const { bin, args, name } = this.command;
    const { logger } = this.hooks;
    const restart = this.started;
    this.started = true;
    this._state = 'running';
    this.startedAt = performance.now();
    let proc: SupervisedProcess;
    try {
      proc = spawnSupervised(bin, args);
    } catch (err) {
      this.giveUp(`cannot start "${bin}": ${String(err)}`);
      return;
    }
    const child = proc.child;
    this.child = child;
    this.proc = proc;
    let stderr = '';
    let partial = '';
    let discarding = false;
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      let changed = false;
      for (const line of lines) {
        if (discarding) {
          discarding = false;
          continue;
        }
        if (this.command.isEvent(line)) changed = true;
      }
      if (partial.length > MAX_LINE_BYTES) {
        partial = '';
        discarding = true;
        changed = true;
      }
      if (changed) this.hooks.onEvent();
    });
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_BYTES);
    });
    child.once('spawn', () => {
      logger.debug({ monitor: name, pid: child.pid }, `${name} started`);
      if (restart) this.hooks.onRestart();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      // /bin/sh itself could not be started: no 'close' follows.
      this.giveUp(`cannot start "${bin}": ${err.message}`);
    });
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = this.proc = undefined;
      if (this._state === 'stopped' || this._state === 'given-up') return;
      const cause = exitCause(code, signal);
      if (cause.kind === 'not-found' || cause.kind === 'not-executable') {
        this.giveUp(`"${bin}" ${describeExit(cause)}`);
        return;
      }
      if (this.command.isUnsupported(stderr)) {
        this.giveUp(stderr.trim().split('\n')[0] ?? 'unsupported');
        return;
      }
      this.scheduleRestart(describeExit(cause), stderr);
    });
  }

  private scheduleRestart(how: string, stderr: string): void {
    const delay = this.restarts.next(performance.now() - this.startedAt);
    this._state = 'waiting';
    this.deathsUnlogged++;
    const now = performance.now();
    if (now - this.lastDeathLogAt >= DEATH_LOG_INTERVAL_MS) {
      const detail = stderr.trim().split('\n')[0]?.slice(0, 200);
      const count = this.deathsUnlogged > 1 ? ` (died ${this.deathsUnlogged} times since the last report)` : '';
      this.hooks.logger.warn(
        { monitor: this.command.name, restartInMs: delay, deaths: this.deathsUnlogged },
        `${this.command.name} ${how}${detail ? ` (${detail})` : ''}${count}; restarting in ${delay} ms`,
      );
      this.lastDeathLogAt = now;
      this.deathsUnlogged = 0;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this._state === 'waiting') this.launch();
    }, delay);
    this.timer.unref();
  }

  private giveUp(why: string): void {
    if (this._state === 'given-up' || this._state === 'stopped') return;
    this._state = 'given-up';
    this.child = this.proc = undefined;
    this.hooks.logger.warn(
      { monitor: this.command.name },
      `${this.command.name} not available (${why}); hardware changes are picked up by Run, lookup misses and the periodic resync instead`,
    );
  }
}
