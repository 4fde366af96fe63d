/**
 * From one snapshot to what a pf-mac can select: the ports (devlink ports and
 * switchdev netdevs seen only in sysfs) and the PFs ("anchors") with the
 * functions each one owns. Pure: no I/O, no clock.
 *
 * The inventory is rebuilt from a full snapshot on every refresh, never
 * patched from events (level-triggered). So a VF seen before its PF is simply
 * part of the next build, a removed PF takes its VFs with it, and a lost event
 * is repaired by the next full read; ovn-vif gets each of these wrong because
 * it edits its tables incrementally.
 *
 * Two shapes (representors.md §6.1):
 * - DPU / SmartNIC: pf-mac is the host PF's MAC, seen here as the function
 *   hw_addr of a `pcipf` port (or, on old kernels, in the uplink's smart_nic
 *   compat file). Its functions are the pcivf/pcisf ports with the same
 *   devlink device, controller and pfnum; the pcipf port's own netdev is the
 *   PF representor (e.g. pf0hpf).
 * - Host switchdev: pf-mac is the address of a local uplink netdev (devlink
 *   `physical` port, or phys_port_name p<N>). Its functions are the pcivf/pcisf
 *   ports on the uplink's PCI device (found through its sysfs `device` link,
 *   because the mlx5 uplink devlink port may sit on auxiliary/mlx5_core.eth.N)
 *   that are not external; or, without devlink, the netdevs on that PCI device
 *   whose phys_port_name is pf<p>vf<n> / pf<p>sf<n> without a controller prefix.
 *
 * Where devlink does not say which PF owns a representor, ownership.ts
 * decides from sysfs, proving ownership or refusing as ambiguous. No vendor is
 * special-cased by name. A host PF's VF ports are checked against its virtfnN
 * links: mlx5 "adjacent" VFs of kernels before 2025 report a bogus vfnum (e.g.
 * 49152), and such a port cannot be selected by a VF number its PF does not
 * have. (A DPU's host VFs live on another host: nothing to check them against.)
 */

import type { DevlinkPort } from './devlink-ports';
import { isUsableMac } from './mac';
import { isPciAddress } from './names';
import { withoutUndefined } from './objects';
import { Ownership, push, type Contest, type SysfsPort, type UplinkFacts } from './ownership';
import { formatPhysPortName, parsePhysPortName, type PhysPortName } from './phys-port-name';
import type { PortEntry } from './port-entry';
import type { NetdevFacts, Snapshot } from './snapshot';

export type AnchorKind =
  /** A devlink pcipf port with a MAC: the DPU shape. */
  | 'pcipf'
  /** An uplink's smart_nic compat file names the host PF's MAC (old BlueField kernels, no devlink). */
  | 'compat'
  /** A local uplink netdev: the host switchdev shape. */
  | 'uplink';

/** A PF that a pf-mac selects, with the functions it owns. */
export interface Anchor {
  readonly kind: AnchorKind;
  /** The MAC a pf-mac selects it by: the uplink's current address, the host PF's function MAC. */
  readonly mac: string;
  /** An uplink's permanent MAC when it differs from its address (a bond slave): it selects the anchor too, and alone. */
  readonly permanentMac?: string;
  /** DPU anchors (0) win over local uplinks (1) with the same MAC, as in representors.md §6.1 (DPU path first). */
  readonly tier: 0 | 1;
  /** Where functions are searched, e.g. ["pci/0000:07:00.0"]. */
  readonly devices: readonly string[];
  /** For pcipf / compat anchors. */
  readonly controller?: number;
  readonly pfnum?: number;
  /** The pcipf port, or the uplink netdev's entry. */
  readonly port: PortEntry;
  /** Whether devlink ports were searched (otherwise sysfs phys_port_name only): for messages. */
  readonly viaDevlink: boolean;
  /** undefined: this shape has no separate PF representor (a host's uplink is the PF itself). */
  readonly pfReps: readonly PortEntry[] | undefined;
  readonly vfs: ReadonlyMap<number, readonly PortEntry[]>;
  readonly sfs: ReadonlyMap<number, readonly PortEntry[]>;
  /** Functions another PF may own as well (see ownership.ts), by contestKey. */
  readonly contested: ReadonlyMap<string, Contest>;
  /** A host PF's VFs as its virtfnN links list them; undefined when unknown (a DPU's host PF, no PCI device). */
  readonly vfIndexes?: readonly number[];
  /** pcivf ports on the PF that claim a VF number its virtfnN links do not list (not selectable). */
  readonly untrusted: readonly PortEntry[];
}

export interface Inventory {
  readonly entries: readonly PortEntry[];
  readonly anchors: readonly Anchor[];
  /** pcipf ports whose MAC is unknown (zero hw_addr, no compat file): they select nothing. */
  readonly pfsWithoutMac: readonly PortEntry[];
  /** devlink ports of flavour virtual: VFs of a NIC whose eswitch is managed elsewhere, or in legacy mode. */
  readonly virtualPorts: number;
  /** Netdevs with a MAC that select nothing (VFs, PFs not in switchdev mode), for refusals. */
  readonly others: readonly NetdevFacts[];
  readonly devlinkAvailable: boolean;
  /** The driver bound to each PCI device devlink shows ports on, by PCI address. */
  readonly pciDrivers: ReadonlyMap<string, string>;
  /** Why devlink is not used, when it is not. */
  readonly devlinkProblem?: string;
}

export function buildInventory(snapshot: Snapshot): Inventory {
  const ports = snapshot.devlink.ok ? snapshot.devlink.ports : [];
  const netdevs = snapshot.netdevs;
  const devlinkEntries = ports.map((port) => devlinkEntry(port, netdevs.get(port.netdev ?? '')));
  const described = new Set(ports.flatMap((p) => (p.netdev === undefined ? [] : [p.netdev])));
  const sysfsPorts: SysfsPort[] = [];
  for (const facts of netdevs.values()) {
    if (described.has(facts.name) || facts.physPortName === undefined) continue;
    const parsed = parsePhysPortName(facts.physPortName);
    if (parsed !== undefined) sysfsPorts.push({ entry: sysfsEntry(facts, parsed), facts, parsed });
  }

  const uplinks = uplinkNetdevs(ports, sysfsPorts, netdevs);
  const ownership = new Ownership(
    devlinkEntries.filter((_, i) => !isExternal(ports[i]!)),
    sysfsPorts,
    [...uplinks.values()],
  );
  const anchors: Anchor[] = [];
  const pfsWithoutMac: PortEntry[] = [];

  // DPU: pcipf ports, keyed by (device, controller, pfnum) so that several hosts
  // (controllers) behind one ECPF do not collide, as they do in ovn-vif.
  const groups = groupDpuFunctions(ports, devlinkEntries);
  const physical = ports.filter((p) => p.flavour === 'physical');
  ports.forEach((port, i) => {
    if (port.flavour !== 'pcipf' || port.pfnum === undefined) return;
    const entry = devlinkEntries[i]!;
    const mac = isUsableMac(port.hwAddr) ? port.hwAddr : compatMac(port, physical, netdevs);
    if (mac === undefined) {
      pfsWithoutMac.push(entry);
      return;
    }
    const group = groups.get(port.device, port.controller ?? 0, port.pfnum);
    anchors.push({
      kind: 'pcipf',
      mac,
      tier: 0,
      devices: [port.device],
      controller: port.controller ?? 0,
      pfnum: port.pfnum,
      port: entry,
      viaDevlink: true,
      pfReps: group?.pfs ?? [entry],
      vfs: group?.vfs ?? new Map(),
      sfs: group?.sfs ?? new Map(),
      contested: new Map(),
      untrusted: [],
    });
  });

  // Host switchdev: devlink physical ports with a local netdev.
  ports.forEach((port, i) => {
    const uplink = uplinks.get(port.netdev ?? '');
    if (port.flavour !== 'physical' || uplink === undefined || !isUsableMac(uplink.facts.address)) return;
    anchors.push(uplinkAnchor(devlinkEntries[i]!, uplink, ownership, true));
  });

  // Uplinks only sysfs shows: drivers without devlink ports, or no devlink at all.
  for (const { entry, facts, parsed } of sysfsPorts) {
    const uplink = uplinks.get(facts.name);
    if (parsed.kind !== 'uplink' || uplink === undefined) continue;
    if (isUsableMac(facts.address)) anchors.push(uplinkAnchor(entry, uplink, ownership, snapshot.devlink.ok));
    if (isUsableMac(facts.smartNicPfMac) && uplink.devices.length > 0) {
      const { pfReps, vfs, sfs, contested } = ownership.compatFunctions(uplink, parsed.port);
      anchors.push({ kind: 'compat', mac: facts.smartNicPfMac, tier: 0, devices: [uplink.devices[0]!], pfnum: parsed.port, port: entry, viaDevlink: false, pfReps, vfs, sfs, contested, untrusted: [] });
    }
  }

  // What selects nothing, for refusals: not an anchor, not a representor.
  const known = new Set([...anchors.map((a) => a.port.netdev), ...sysfsPorts.map((p) => p.facts.name)]);
  return {
    entries: [...devlinkEntries, ...sysfsPorts.map((p) => p.entry)],
    anchors,
    pfsWithoutMac,
    virtualPorts: ports.filter((p) => p.flavour === 'virtual').length,
    others: [...netdevs.values()].filter((f) => isUsableMac(f.address) && !known.has(f.name)),
    devlinkAvailable: snapshot.devlink.ok,
    pciDrivers: snapshot.pciDrivers,
    ...(snapshot.devlink.ok ? {} : { devlinkProblem: snapshot.devlink.error.message }),
  };
}

/** Every uplink netdev (devlink physical ports and sysfs p<N> netdevs), VFs excepted, by name. */
function uplinkNetdevs(ports: readonly DevlinkPort[], sysfsPorts: readonly SysfsPort[], netdevs: ReadonlyMap<string, NetdevFacts>): Map<string, UplinkFacts> {
  const out = new Map<string, UplinkFacts>();
  for (const port of ports) {
    const facts = port.flavour === 'physical' && port.netdev !== undefined ? netdevs.get(port.netdev) : undefined;
    if (facts === undefined || facts.onVirtualFunction === true) continue;
    out.set(facts.name, { facts, devices: unique([port.device, ...pciDevice(facts)]), ...(port.port === undefined ? {} : { portNumber: port.port }) });
  }
  for (const p of sysfsPorts) {
    if (p.parsed.kind !== 'uplink' || p.facts.onVirtualFunction === true || out.has(p.facts.name)) continue;
    out.set(p.facts.name, { facts: p.facts, devices: pciDevice(p.facts), portNumber: p.parsed.port });
  }
  return out;
}

/**
 * A port counts as external when devlink says so. SF ports of current kernels
 * carry no `external` attribute at all, so for them a non-zero controller is
 * the sign; for VFs it is not (2026 kernels give local "satellite" VFs a
 * non-zero controller), so there `external` alone decides, absent = local.
 */
export function isExternal(port: DevlinkPort): boolean {
  if (port.external !== undefined) return port.external;
  return port.flavour === 'pcisf' && (port.controller ?? 0) !== 0;
}

/** One literal with every field (absent ones undefined): a refresh builds 16k of them, copies would be garbage. */
function devlinkEntry(port: DevlinkPort, facts: NetdevFacts | undefined): PortEntry {
  return {
    key: port.handle,
    source: 'devlink' as const,
    flavour: port.flavour ?? '',
    device: port.device,
    portIndex: port.index,
    type: port.type,
    netdev: port.netdev ?? '',
    ifindex: facts?.ifindex ?? 0,
    controller: port.controller,
    pfnum: port.pfnum,
    vfnum: port.vfnum,
    sfnum: port.sfnum,
    external: port.external,
    physPortName: facts?.physPortName ?? formatPhysPortName(port),
  };
}

function sysfsEntry(facts: NetdevFacts, parsed: PhysPortName): PortEntry {
  const common = {
    key: `sysfs:${facts.name}`,
    source: 'sysfs' as const,
    device: pciDevice(facts)[0] ?? '',
    netdev: facts.name,
    ifindex: facts.ifindex ?? 0,
    physPortName: facts.physPortName ?? '',
  };
  switch (parsed.kind) {
    case 'uplink':
      return { ...common, flavour: 'physical' };
    case 'pf':
      return withoutUndefined({ ...common, flavour: 'pcipf', controller: parsed.controller, pfnum: parsed.pf });
    case 'vf':
      return withoutUndefined({ ...common, flavour: 'pcivf', controller: parsed.controller, pfnum: parsed.pf, vfnum: parsed.vf });
    case 'sf':
      return withoutUndefined({ ...common, flavour: 'pcisf', controller: parsed.controller, pfnum: parsed.pf, sfnum: parsed.sf });
  }
}

interface DpuGroup {
  readonly pfs: PortEntry[];
  readonly vfs: Map<number, PortEntry[]>;
  readonly sfs: Map<number, PortEntry[]>;
}

/**
 * The functions of each (device, controller, pfnum), for the pcipf ports to
 * claim. Keyed by device, then by a number made of controller (u32) and
 * pfnum (u16), exact below 2^53: no key string per port.
 */
class DpuGroups {
  private readonly byDevice = new Map<string, Map<number, DpuGroup>>();

  get(device: string, controller: number, pfnum: number): DpuGroup | undefined {
    return this.byDevice.get(device)?.get(controller * 0x10000 + pfnum);
  }

  open(device: string, controller: number, pfnum: number): DpuGroup {
    let groups = this.byDevice.get(device);
    if (groups === undefined) {
      groups = new Map();
      this.byDevice.set(device, groups);
    }
    const key = controller * 0x10000 + pfnum;
    let group = groups.get(key);
    if (group === undefined) {
      group = { pfs: [], vfs: new Map(), sfs: new Map() };
      groups.set(key, group);
    }
    return group;
  }
}

function groupDpuFunctions(ports: readonly DevlinkPort[], entries: readonly PortEntry[]): DpuGroups {
  const groups = new DpuGroups();
  // Only a pcipf port claims a group: a host without one (host switchdev) needs none.
  if (!ports.some((p) => p.flavour === 'pcipf')) return groups;
  ports.forEach((port, i) => {
    if (port.pfnum === undefined) return;
    const group = groups.open(port.device, port.controller ?? 0, port.pfnum);
    const entry = entries[i]!;
    if (port.flavour === 'pcipf') group.pfs.push(entry);
    else if (port.flavour === 'pcivf' && port.vfnum !== undefined) push(group.vfs, port.vfnum, entry);
    else if (port.flavour === 'pcisf' && port.sfnum !== undefined) push(group.sfs, port.sfnum, entry);
  });
  return groups;
}

/**
 * ovn-vif's compat fallback for a pcipf port without a MAC: the physical port
 * of the same device whose port number is the pfnum has the host PF's MAC in
 * its smart_nic/pf/config ("not really any association ... but they correlate
 * on the devices where this is necessary"). "Same device" also covers an
 * uplink devlink port on auxiliary/... whose netdev sits on the pcipf's PCI device.
 */
function compatMac(pf: DevlinkPort, physical: readonly DevlinkPort[], netdevs: ReadonlyMap<string, NetdevFacts>): string | undefined {
  const macs = new Set<string>();
  for (const port of physical) {
    if (port.port !== pf.pfnum || port.netdev === undefined) continue;
    const facts = netdevs.get(port.netdev);
    if (facts === undefined || !isUsableMac(facts.smartNicPfMac)) continue;
    if (port.device === pf.device || pciDevice(facts)[0] === pf.device) macs.add(facts.smartNicPfMac);
  }
  // Two different answers would be a guess; leave the PF unselectable instead.
  return macs.size === 1 ? [...macs][0] : undefined;
}

/**
 * A local uplink: the PF a host's own MAC selects. Its VFs are checked
 * against its virtfnN links when it has any: a port claiming a VF the PF does
 * not have (mlx5 "adjacent" functions reported vfnum 49152 before a 2025
 * fix) is not selectable by that number.
 */
function uplinkAnchor(entry: PortEntry, uplink: UplinkFacts, ownership: Ownership, viaDevlink: boolean): Anchor {
  const { facts, devices } = uplink;
  const { vfs, sfs, contested } = ownership.hostFunctions(uplink);
  const untrusted: PortEntry[] = [];
  const known = facts.vfIndexes;
  if (known !== undefined && known.length > 0) {
    for (const [num, list] of vfs) {
      if (known.includes(num)) continue;
      untrusted.push(...list);
      vfs.delete(num);
    }
  }
  const permanent = facts.permAddress !== undefined && facts.permAddress !== facts.address ? { permanentMac: facts.permAddress } : {};
  return {
    kind: 'uplink',
    mac: facts.address!,
    ...permanent,
    tier: 1,
    devices,
    port: entry,
    viaDevlink,
    pfReps: undefined,
    vfs,
    sfs,
    contested,
    ...(known === undefined ? {} : { vfIndexes: known }),
    untrusted,
  };
}

function pciDevice(facts: NetdevFacts): string[] {
  return facts.deviceName !== undefined && isPciAddress(facts.deviceName) ? [`pci/${facts.deviceName}`] : [];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

