/**
 * The `devlink` and `ip` a fake host offers: symlinks to the one stand-in
 * script (scripts/iproute2-stand-in.js), and the files in the host directory
 * that tell it what to print and which fault to show. See the script's header
 * for the file names; this class is their typed front.
 */

import { accessSync, appendFileSync, constants, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { COMMANDS } from '../../../scripts/iproute2-stand-in';
import type { DevlinkJson } from './devlink-text';

/** A command of the stand-in: devlink-port-show, devlink-monitor, ip-monitor. */
export type StandInCommand = keyof typeof COMMANDS;
/** The behaviours one command knows ("ok", "hang", ...). */
export type BehaviourOf<C extends StandInCommand> = keyof (typeof COMMANDS)[C] & string;
/** What `devlink -j port show` can be made to do. */
export type DevlinkBehaviour = BehaviourOf<'devlink-port-show'>;

/**
 * The stand-in script, found from here whether this file runs from test/ or
 * compiled into bench/dist. Only an executable copy will do: compiling the
 * bench also emits bench/dist/scripts/iproute2-stand-in.js (this file imports
 * its types), without the execute bit, and a devlink that cannot run turns a
 * host into a sysfs-only one without a word.
 */
export const STAND_IN_SCRIPT = findUp(join('scripts', 'iproute2-stand-in.js'));

export class Iproute2StandIn {
  readonly devlinkBin: string;
  readonly ipBin: string;

  /** Installs the stand-ins in `<dir>/bin`, recording calls and monitor pids in `dir`. */
  constructor(readonly dir: string) {
    this.devlinkBin = join(dir, 'bin', 'devlink');
    this.ipBin = join(dir, 'bin', 'ip');
    for (const bin of [this.devlinkBin, this.ipBin]) symlinkSync(STAND_IN_SCRIPT, bin);
    for (const file of ['devlink.calls', 'ip.calls', 'devlink.monitor.pids', 'ip.monitor.pids', 'devlink.events', 'ip.events']) {
      writeFileSync(join(dir, file), '');
    }
    this.setDevlinkPorts({ port: {} });
  }

  /** What the next `devlink -j port show` prints. */
  setDevlinkPorts(json: DevlinkJson): void {
    writeFileSync(join(this.dir, 'devlink-ports.json'), JSON.stringify(json));
  }

  /** A fault for every devlink command that knows it ("no-netlink" also stops the monitor). */
  setDevlinkBehaviour(behaviour: DevlinkBehaviour): void {
    writeFileSync(join(this.dir, 'devlink.behaviour'), behaviour);
  }

  /** A fault for one command; "ok" restores the healthy host. */
  setBehaviour<C extends StandInCommand>(command: C, behaviour: BehaviourOf<C>): void {
    writeFileSync(join(this.dir, `${command}.behaviour`), behaviour);
  }

  /** Makes a running `devlink monitor port` print `line` (e.g. "[port,new] pci/...: ..."). */
  emitDevlinkEvent(line: string): void {
    appendFileSync(join(this.dir, 'devlink.events'), `${line}\n`);
  }

  /** Makes a running `ip -o monitor link` print `line`. */
  emitLinkEvent(line: string): void {
    appendFileSync(join(this.dir, 'ip.events'), `${line}\n`);
  }

  /** The argument lists of every run of a stand-in, oldest first. */
  invocations(tool: 'devlink' | 'ip'): string[][] {
    return lines(join(this.dir, `${tool}.calls`)).map((line) => JSON.parse(line) as string[]);
  }

  /** How many times `devlink -j port show` ran. */
  portDumps(): number {
    return this.invocations('devlink').filter((args) => args.includes('port') && args.includes('show')).length;
  }

  /** Pids of the monitor processes a stand-in started, oldest first. */
  monitorPids(tool: 'devlink' | 'ip'): number[] {
    return lines(join(this.dir, `${tool}.monitor.pids`)).map(Number);
  }

  /** Pids of the helpers the fork-and-* faults started, oldest first. */
  forkedPids(): number[] {
    return lines(join(this.dir, 'forked.pids')).map(Number);
  }

  /** SIGTERM to every monitor and forked helper still running (a test that failed midway may leave some). */
  stopMonitors(): void {
    for (const pid of [...this.monitorPids('devlink'), ...this.monitorPids('ip'), ...this.forkedPids()]) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  }
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findUp(relativePath: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, relativePath);
    if (isExecutable(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`no executable ${relativePath} above ${__dirname}`);
  }
}
