/**
 * Which PF owns a representor, for the ones devlink does not tie to a PF:
 * sysfs-only netdevs (drivers without devlink VF ports, kernels without
 * devlink). Pure: no I/O.
 *
 * A representor is a PF's when one of these proves it:
 * - devlink: a non-external pcivf/pcisf port on the PF's devlink device;
 * - placement: sysfs links the netdev to the PF's PCI device (kernel 5.8+
 *   for mlx5, 2023+ for bnxt);
 * - otherwise (representors that sysfs lists as virtual netdevs): the same
 *   phys_switch_id AND the same PF number in phys_port_name, where the PF
 *   number is inferred (the PCI function for a host uplink, the port number
 *   p<N> for a DPU uplink's smart_nic compat MAC). One switch id spans every
 *   PF of a card (dual-port, Socket Direct / multi-socket halves, BlueField-4
 *   uplinks that are all function 0), so the inference holds only when no
 *   other uplink of the switch has the same PF number. When another one does,
 *   a VF representor is still this PF's if this PF alone has that VF (its
 *   virtfnN link); anything else is contested: refused as ambiguous, with the
 *   candidates, never given to whichever PF asked first.
 */

import { isPciAddress, pciFunction } from './names';
import type { PhysPortName } from './phys-port-name';
import type { PortEntry } from './port-entry';
import type { NetdevFacts } from './snapshot';

/** A netdev that only sysfs shows, with its parsed phys_port_name. */
export interface SysfsPort {
  readonly entry: PortEntry;
  readonly facts: NetdevFacts;
  readonly parsed: PhysPortName;
}

/** A function this PF might own but that another PF might own as well. */
export interface Contest {
  readonly fn: 'pf' | 'vf' | 'sf';
  readonly num: number;
  /** The representors that could be this PF's. */
  readonly candidates: readonly PortEntry[];
  /** The uplinks that could own them, this PF's first. */
  readonly pfs: readonly string[];
  /** Why nothing tells: the PFs share a switch id and a PF number, or one device carries several PFs' functions. */
  readonly kind: 'switch' | 'device';
  /** What they share, e.g. "phys_switch_id 3a9c... and PF number 0". */
  readonly shared: string;
  /** Whether the PFs' virtfnN links were read and both list the VF (for the advice). */
  readonly bothHaveVf: boolean;
}

export interface Functions {
  readonly vfs: Map<number, PortEntry[]>;
  readonly sfs: Map<number, PortEntry[]>;
  readonly contested: Map<string, Contest>;
}

/** An uplink as ownership sees it. */
export interface UplinkFacts {
  readonly facts: NetdevFacts;
  /** Where its functions are searched by devlink device or sysfs placement. */
  readonly devices: readonly string[];
  /** Its physical port number (devlink `port`, or p<N>). */
  readonly portNumber?: number;
}

export function contestKey(fn: 'pf' | 'vf' | 'sf', num: number): string {
  return `${fn}:${num}`;
}

/** The functions on a device, by devlink or placement, and the unplaced ones by switch id. */
export class Ownership {
  private readonly vfsByDevice = new Map<string, Map<number, PortEntry[]>>();
  private readonly sfsByDevice = new Map<string, Map<number, PortEntry[]>>();
  private readonly unplacedBySwitch = new Map<string, SysfsPort[]>();
  private readonly uplinksBySwitch = new Map<string, NetdevFacts[]>();

  constructor(
    devlinkLocal: readonly PortEntry[],
    private readonly sysfsPorts: readonly SysfsPort[],
    private readonly uplinks: readonly UplinkFacts[],
  ) {
    for (const entry of devlinkLocal) this.addOnDevice(entry.device, entry);
    for (const p of sysfsPorts) {
      if (p.parsed.kind === 'uplink') continue;
      if (p.entry.device !== '') {
        // A controller prefix means an external (DPU host) function, or on 2026
        // kernels a local one that sysfs cannot tell apart: not a host's own VF.
        if (p.parsed.controller === undefined) this.addOnDevice(p.entry.device, p.entry);
      } else if (p.facts.physSwitchId !== undefined) {
        push(this.unplacedBySwitch, p.facts.physSwitchId, p);
      }
    }
    for (const { facts } of uplinks) if (facts.physSwitchId !== undefined) push(this.uplinksBySwitch, facts.physSwitchId, facts);
  }

  /** A host uplink's local VFs and SFs (representors.md §6.1 host path). */
  hostFunctions(uplink: UplinkFacts): Functions {
    const placed = this.onDevices(uplink.devices);
    if (placed.vfs.size > 0 || placed.sfs.size > 0) return this.ofThisPf(uplink, placed);
    // The PF number is taken to be the uplink's PCI function, as bnxt and os-vif do.
    const bdf = uplink.facts.deviceName;
    if (bdf === undefined || !isPciAddress(bdf)) return placed;
    const pf = pciFunction(bdf);
    return this.bySwitch(uplink.facts, pf);
  }

  /**
   * The functions of the host PF whose MAC an uplink's smart_nic compat file
   * names (no devlink): c<ctrl>pf<N>vf<M> netdevs, where N is the uplink's
   * port number p<N> (pf<N>vf<M> on kernels before 5.10, which print no
   * controller prefix at all: used only when none of them has one).
   */
  compatFunctions(uplink: UplinkFacts, port: number): Functions & { pfReps: PortEntry[] } {
    const onDevice = this.sysfsPorts.filter((p) => p.parsed.kind !== 'uplink' && uplink.devices.includes(p.entry.device));
    if (onDevice.length > 0) return { ...groupCompat(onDevice, port), contested: new Map() };
    // Representors that sysfs lists as virtual netdevs (smart_nic-era kernels).
    const switchId = uplink.facts.physSwitchId;
    const unplaced = switchId === undefined ? [] : (this.unplacedBySwitch.get(switchId) ?? []);
    const pfs = this.uplinksWith(uplink.facts, port, portNumber);
    const grouped = groupCompat(unplaced, port);
    if (pfs.length === 1) return { ...grouped, contested: new Map() };
    // Another uplink of this switch has the same port number: nothing here proves whose they are.
    const contested = new Map<string, Contest>();
    const contest = (fn: Contest['fn'], num: number, candidates: PortEntry[]): void => {
      contested.set(contestKey(fn, num), { fn, num, candidates, pfs: pfs.map((u) => u.name), kind: 'switch', shared: `phys_switch_id ${switchId} and port number p${port}`, bothHaveVf: false });
    };
    if (grouped.pfReps.length > 0) contest('pf', port, grouped.pfReps);
    for (const [num, candidates] of grouped.vfs) contest('vf', num, candidates);
    for (const [num, candidates] of grouped.sfs) contest('sf', num, candidates);
    return { vfs: new Map(), sfs: new Map(), pfReps: [], contested };
  }

  /**
   * A device normally carries one PF's functions. One that carries several
   * PFs' (a separate representor device, as Marvell RVU has) proves nothing
   * by itself: the uplink's share is the functions whose pfnum is its port
   * number, when it alone on the device has that port number; else all are
   * contested.
   */
  private ofThisPf(uplink: UplinkFacts, placed: Functions): Functions {
    const all = [...placed.vfs.values(), ...placed.sfs.values()].flat();
    const pfnums = new Set(all.flatMap((e) => (e.pfnum === undefined ? [] : [e.pfnum])));
    if (pfnums.size <= 1) return placed;
    const sharing = this.uplinks.filter((u) => u.devices.some((d) => uplink.devices.includes(d)));
    const port = uplink.portNumber;
    const out: Functions = { vfs: new Map(), sfs: new Map(), contested: new Map() };
    if (port !== undefined && pfnums.has(port) && sharing.filter((u) => u.portNumber === port).length === 1) {
      for (const [from, to] of [[placed.vfs, out.vfs], [placed.sfs, out.sfs]] as const) {
        for (const [num, list] of from) {
          const mine = list.filter((e) => e.pfnum === port);
          if (mine.length > 0) to.set(num, mine);
        }
      }
      return out;
    }
    const names = [uplink.facts.name, ...sharing.filter((u) => u !== uplink).map((u) => u.facts.name)];
    const shared = `${uplink.devices.join(' + ')}, which carries the functions of PF numbers ${[...pfnums].sort((a, b) => a - b).join(', ')}`;
    for (const [fn, map] of [['vf', placed.vfs], ['sf', placed.sfs]] as const) {
      for (const [num, candidates] of map) out.contested.set(contestKey(fn, num), { fn, num, candidates, pfs: names, kind: 'device', shared, bothHaveVf: false });
    }
    return out;
  }

  private onDevices(devices: readonly string[]): Functions {
    const vfs = new Map<number, PortEntry[]>();
    const sfs = new Map<number, PortEntry[]>();
    for (const device of devices) {
      for (const [n, list] of this.vfsByDevice.get(device) ?? []) for (const e of list) push(vfs, n, e);
      for (const [n, list] of this.sfsByDevice.get(device) ?? []) for (const e of list) push(sfs, n, e);
    }
    return { vfs, sfs, contested: new Map() };
  }

  /**
   * Unplaced representors of the uplink's switch whose PF number is `pf`. Its
   * own when no other uplink of the switch has that PF number; otherwise a VF
   * is its own only if its virtfnN links say that it alone has that VF.
   */
  private bySwitch(uplink: NetdevFacts, pf: number): Functions {
    const out: Functions = { vfs: new Map(), sfs: new Map(), contested: new Map() };
    const switchId = uplink.physSwitchId;
    if (switchId === undefined) return out;
    const rivals = this.uplinksWith(uplink, pf, pciFunctionOf);
    for (const p of this.unplacedBySwitch.get(switchId) ?? []) {
      const parsed = p.parsed;
      // Controller-prefixed names are external (DPU host) functions, not a host's own.
      if ((parsed.kind !== 'vf' && parsed.kind !== 'sf') || parsed.pf !== pf || parsed.controller !== undefined) continue;
      const fn = parsed.kind;
      const num = parsed.kind === 'vf' ? parsed.vf : parsed.sf;
      const target = fn === 'vf' ? out.vfs : out.sfs;
      if (rivals.length === 1) {
        push(target, num, p.entry);
        continue;
      }
      const owners = fn === 'vf' ? vfOwners(rivals, num) : undefined;
      if (owners !== undefined && owners.length === 1) {
        if (owners[0] === uplink) push(target, num, p.entry);
        continue;
      }
      const key = contestKey(fn, num);
      const previous = out.contested.get(key);
      out.contested.set(key, {
        fn,
        num,
        candidates: [...(previous?.candidates ?? []), p.entry],
        pfs: rivals.map((u) => u.name),
        kind: 'switch',
        shared: `phys_switch_id ${switchId} and PF number ${pf} (PCI function)`,
        bothHaveVf: owners !== undefined && owners.length > 1,
      });
    }
    return out;
  }

  /** The uplinks of `uplink`'s switch with the same PF number, `uplink` first. */
  private uplinksWith(uplink: NetdevFacts, pf: number, pfOf: (u: NetdevFacts) => number | undefined): NetdevFacts[] {
    const same = (this.uplinksBySwitch.get(uplink.physSwitchId ?? '') ?? []).filter((u) => u !== uplink && pfOf(u) === pf);
    return [uplink, ...same];
  }

  private addOnDevice(device: string, entry: PortEntry): void {
    if (entry.flavour === 'pcivf' && entry.vfnum !== undefined) push(nested(this.vfsByDevice, device), entry.vfnum, entry);
    if (entry.flavour === 'pcisf' && entry.sfnum !== undefined) push(nested(this.sfsByDevice, device), entry.sfnum, entry);
  }
}

/**
 * Which of the uplinks have VF `num` (a virtfn<num> link); undefined when
 * some uplink's VFs could not be read, so that nothing is proven from a gap.
 */
function vfOwners(uplinks: readonly NetdevFacts[], num: number): NetdevFacts[] | undefined {
  if (uplinks.some((u) => u.vfIndexes === undefined)) return undefined;
  return uplinks.filter((u) => u.vfIndexes!.includes(num));
}

function pciFunctionOf(u: NetdevFacts): number | undefined {
  return u.deviceName !== undefined && isPciAddress(u.deviceName) ? pciFunction(u.deviceName) : undefined;
}

function portNumber(u: NetdevFacts): number | undefined {
  const m = /^p(0|[1-9][0-9]{0,9})$/.exec(u.physPortName ?? '');
  return m ? Number(m[1]) : undefined;
}

function groupCompat(ports: readonly SysfsPort[], pf: number): { pfReps: PortEntry[]; vfs: Map<number, PortEntry[]>; sfs: Map<number, PortEntry[]> } {
  const mine = ports.filter((p) => p.parsed.kind !== 'uplink' && p.parsed.pf === pf);
  const prefixed = mine.some((p) => p.parsed.kind !== 'uplink' && p.parsed.controller !== undefined);
  const pfReps: PortEntry[] = [];
  const vfs = new Map<number, PortEntry[]>();
  const sfs = new Map<number, PortEntry[]>();
  for (const { parsed, entry } of mine) {
    if (parsed.kind === 'uplink' || (parsed.controller !== undefined) !== prefixed) continue;
    if (parsed.kind === 'pf') pfReps.push(entry);
    else if (parsed.kind === 'vf') push(vfs, parsed.vf, entry);
    else push(sfs, parsed.sf, entry);
  }
  return { pfReps, vfs, sfs };
}

export function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

function nested<V>(map: Map<string, Map<number, V[]>>, key: string): Map<number, V[]> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}
