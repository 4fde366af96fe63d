/**
 * What repair mode did, for `vifplug-ovn status`: the latest repairs
 * (newest first, a bounded number), how many of each reason since the
 * agent started, and the ports it holds back. Pure: the clock is injected.
 */

import type { HeldRepair, RepairReason, RepairRemoval } from './repair';
import { REPAIR_REASONS } from './repair';

/** One repair as `vifplug-ovn status` shows it. */
export interface RepairRecord {
  /** When it committed, ISO 8601. */
  readonly at: string;
  /** Milliseconds since (at the time of the status). */
  readonly agoMs: number;
  readonly lport: string;
  /** The interface (and port) removed. */
  readonly iface: string;
  /** Its ovn-plugged vif-plug-type. */
  readonly type: string;
  readonly reason: RepairReason;
  readonly message: string;
}

/** Repair mode in `vifplug-ovn status`. */
export interface RepairStatus {
  /** --repair: the vif-plug-types ovn-controller plugs and the agent repairs; empty when repair mode is off. */
  readonly types: readonly string[];
  /** Repairs since the agent started, by reason. */
  readonly counts: Readonly<Record<RepairReason, number>>;
  /** The latest repairs, newest first. */
  readonly recent: readonly RepairRecord[];
  /** Ports the agent would remove but leaves, and why. */
  readonly held: readonly HeldRepair[];
}

/** How many repairs the status keeps. */
export const RECENT_REPAIRS = 50;

export class RepairLog {
  private readonly recent: { at: number; removal: RepairRemoval }[] = [];
  private readonly counts = Object.fromEntries(REPAIR_REASONS.map((r) => [r, 0])) as Record<RepairReason, number>;
  private held: readonly HeldRepair[] = [];

  constructor(
    private readonly types: readonly string[],
    private readonly now: () => number,
  ) {}

  /** Removals that committed. */
  repaired(removals: readonly RepairRemoval[]): void {
    const at = this.now();
    for (const removal of removals) {
      this.counts[removal.reason]++;
      this.recent.unshift({ at, removal });
    }
    this.recent.length = Math.min(this.recent.length, RECENT_REPAIRS);
  }

  /** The ports held back after a pass, for the lports it looked at (`scope`; undefined: all). */
  setHeld(held: readonly HeldRepair[], scope: ReadonlySet<string> | undefined): void {
    this.held = [...this.held.filter((h) => scope !== undefined && !scope.has(h.lport)), ...held].sort((a, b) => (a.lport < b.lport ? -1 : a.lport > b.lport ? 1 : 0));
  }

  status(): RepairStatus {
    const now = this.now();
    return {
      types: this.types,
      counts: { ...this.counts },
      recent: this.recent.map(({ at, removal }) => ({
        at: new Date(at).toISOString(),
        agoMs: now - at,
        lport: removal.lport,
        iface: removal.iface.name,
        type: removal.type,
        reason: removal.reason,
        message: removal.message,
      })),
      held: this.held,
    };
  }
}
