/**
 * A fake host for the representor provider: a /sys-like tree (sysfs-tree.ts)
 * plus `devlink` and `ip` stand-ins (iproute2.ts) in a temp directory. The
 * provider under test only sees --sysfs-root, --devlink-bin and --ip-bin;
 * tests change the hardware between calls through this object.
 */

import { mkdtempSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { DevlinkJson } from './devlink-text';
import { Iproute2StandIn, type BehaviourOf, type DevlinkBehaviour, type StandInCommand } from './iproute2';
import { SysfsTree, SMALL_TREE, type TreeRoom } from './sysfs-tree';

export class FakeHost extends SysfsTree {
  /** Holds bin/devlink, bin/ip and the stand-ins' state (on disk: /dev/shm may be noexec). */
  readonly dir: string;
  readonly iproute2: Iproute2StandIn;

  constructor(room: TreeRoom = SMALL_TREE) {
    super(room);
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), 'vifplug-host-')));
    mkdirSync(join(this.dir, 'bin'));
    this.iproute2 = new Iproute2StandIn(this.dir);
  }

  get devlinkBin(): string {
    return this.iproute2.devlinkBin;
  }

  get ipBin(): string {
    return this.iproute2.ipBin;
  }

  override remove(): void {
    this.iproute2.stopMonitors();
    super.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // The stand-in's controls, where tests expect them.
  setDevlinkPorts(json: DevlinkJson): void {
    this.iproute2.setDevlinkPorts(json);
  }

  setDevlinkBehaviour(behaviour: DevlinkBehaviour): void {
    this.iproute2.setDevlinkBehaviour(behaviour);
  }

  setBehaviour<C extends StandInCommand>(command: C, behaviour: BehaviourOf<C>): void {
    this.iproute2.setBehaviour(command, behaviour);
  }

  emitDevlinkEvent(line: string): void {
    this.iproute2.emitDevlinkEvent(line);
  }

  emitLinkEvent(line: string): void {
    this.iproute2.emitLinkEvent(line);
  }

  invocations(tool: 'devlink' | 'ip'): string[][] {
    return this.iproute2.invocations(tool);
  }

  portDumps(): number {
    return this.iproute2.portDumps();
  }

  monitorPids(tool: 'devlink' | 'ip'): number[] {
    return this.iproute2.monitorPids(tool);
  }

  forkedPids(): number[] {
    return this.iproute2.forkedPids();
  }
}
