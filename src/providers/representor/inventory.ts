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
 * No vendor is special-cased by name. Known limit: mlx5 "adjacent" VFs of
 * kernels before 2025 report a bogus vfnum (e.g. 49152); such a port is listed
 * with that number and cannot be selected by its real VF index. Checking the
 * vfnum against the PF's virtfnN links does not generalise (a DPU's VFs live on
 * another host), so it is not done.
 */

import type { DevlinkPort } from './devlink-ports';
import { isUsableMac } from './mac';
import { isPciAddress, pciFunction } from './names';
import { withoutUndefined } from './objects';
import { formatPhysPortName, parsePhysPortName, type PhysPortName } from './phys-port-name';
import type { NetdevFacts, Snapshot } from './snapshot';

/** A port the provider knows: a devlink port, or a switchdev netdev that only sysfs shows. */
export interface PortEntry {
  /** Identity across refreshes: the devlink handle, or "sysfs:<netdev>". */
  readonly key: string;
  readonly source: 'devlink' | 'sysfs';
  /** devlink flavour; for sysfs entries the one their phys_port_name implies. */
  readonly flavour: string;
  /** "pci/0000:07:00.0", the devlink device, or '' when sysfs shows no PCI device. */
  readonly device: string;
  readonly portIndex?: number;
  /** devlink port type (eth, notset, ...). */
  readonly type?: string;
  /** '' while the port has no netdev (being created, or in another netns). */
  readonly netdev: string;
  /** 0 when not read: devlink does not print it, and reading it for every representor would cost a file read each. */
  readonly ifindex: number;
  readonly controller?: number;
  readonly pfnum?: number;
  readonly vfnum?: number;
  readonly sfnum?: number;
  readonly external?: boolean;
  readonly physPortName: string;
}

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
  readonly mac: string;
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
}

export interface Inventory {
  readonly entries: readonly PortEntry[];
  readonly anchors: readonly Anchor[];
  /** pcipf ports whose MAC is unknown (zero hw_addr, no compat file): they select nothing. */
  readonly pfsWithoutMac: readonly PortEntry[];
  /** devlink ports of flavour virtual: VFs of a NIC whose eswitch is managed elsewhere. */
  readonly virtualPorts: number;
  readonly devlinkAvailable: boolean;
  /** Why devlink is not used, when it is not. */
  readonly devlinkProblem?: string;
}

/** Where a sysfs-only netdev sits and what its phys_port_name says. */
interface SysfsPort {
  readonly entry: PortEntry;
  readonly facts: NetdevFacts;
  readonly parsed: PhysPortName;
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

  const local = new LocalFunctions(ports, devlinkEntries, sysfsPorts);
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
    const group = groups.get(dpuKey(port.device, port.controller ?? 0, port.pfnum));
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
    });
  });

  // Host switchdev: devlink physical ports with a local netdev.
  ports.forEach((port, i) => {
    if (port.flavour !== 'physical' || port.netdev === undefined) return;
    const facts = netdevs.get(port.netdev);
    if (facts === undefined || !isUsableMac(facts.address) || facts.onVirtualFunction === true) return;
    const devices = unique([port.device, ...pciDevice(facts)]);
    anchors.push(uplinkAnchor(facts.address, devlinkEntries[i]!, devices, local, facts, true));
  });

  // Uplinks only sysfs shows: drivers without devlink ports, or no devlink at all.
  for (const { entry, facts, parsed } of sysfsPorts) {
    if (parsed.kind !== 'uplink' || facts.onVirtualFunction === true) continue;
    const devices = pciDevice(facts);
    if (isUsableMac(facts.address)) {
      anchors.push(uplinkAnchor(facts.address, entry, devices, local, facts, snapshot.devlink.ok));
    }
    if (isUsableMac(facts.smartNicPfMac) && devices.length > 0) {
      anchors.push(compatAnchor(facts.smartNicPfMac, entry, devices[0]!, parsed.port, sysfsPorts));
    }
  }

  return {
    entries: [...devlinkEntries, ...sysfsPorts.map((p) => p.entry)],
    anchors,
    pfsWithoutMac,
    virtualPorts: ports.filter((p) => p.flavour === 'virtual').length,
    devlinkAvailable: snapshot.devlink.ok,
    ...(snapshot.devlink.ok ? {} : { devlinkProblem: snapshot.devlink.error.message }),
  };
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

function devlinkEntry(port: DevlinkPort, facts: NetdevFacts | undefined): PortEntry {
  return withoutUndefined({
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
  });
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

function dpuKey(device: string, controller: number, pfnum: number): string {
  return `${device}|${controller}|${pfnum}`;
}

function groupDpuFunctions(ports: readonly DevlinkPort[], entries: readonly PortEntry[]): Map<string, DpuGroup> {
  const groups = new Map<string, DpuGroup>();
  ports.forEach((port, i) => {
    if (port.pfnum === undefined) return;
    const key = dpuKey(port.device, port.controller ?? 0, port.pfnum);
    let group = groups.get(key);
    if (group === undefined) {
      group = { pfs: [], vfs: new Map(), sfs: new Map() };
      groups.set(key, group);
    }
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

/** The local functions on a PCI (or other devlink) device, from devlink and from sysfs-only netdevs. */
class LocalFunctions {
  private readonly vfsByDevice = new Map<string, Map<number, PortEntry[]>>();
  private readonly sfsByDevice = new Map<string, Map<number, PortEntry[]>>();
  private readonly bySwitch = new Map<string, SysfsPort[]>();

  constructor(ports: readonly DevlinkPort[], entries: readonly PortEntry[], sysfsPorts: readonly SysfsPort[]) {
    ports.forEach((port, i) => {
      if (isExternal(port)) return;
      if (port.flavour === 'pcivf' && port.vfnum !== undefined) push(nested(this.vfsByDevice, port.device), port.vfnum, entries[i]!);
      if (port.flavour === 'pcisf' && port.sfnum !== undefined) push(nested(this.sfsByDevice, port.device), port.sfnum, entries[i]!);
    });
    for (const p of sysfsPorts) {
      // A controller prefix means an external (DPU host) function, or on 2026
      // kernels a local one that sysfs cannot tell apart: not a host's own VF.
      if ((p.parsed.kind !== 'vf' && p.parsed.kind !== 'sf') || p.parsed.controller !== undefined) continue;
      if (p.entry.device !== '') {
        if (p.parsed.kind === 'vf') push(nested(this.vfsByDevice, p.entry.device), p.parsed.vf, p.entry);
        else push(nested(this.sfsByDevice, p.entry.device), p.parsed.sf, p.entry);
      }
      if (p.facts.physSwitchId !== undefined) {
        const list = this.bySwitch.get(p.facts.physSwitchId) ?? [];
        list.push(p);
        this.bySwitch.set(p.facts.physSwitchId, list);
      }
    }
  }

  collect(devices: readonly string[], uplink: NetdevFacts | undefined): { vfs: Map<number, PortEntry[]>; sfs: Map<number, PortEntry[]> } {
    const vfs = new Map<number, PortEntry[]>();
    const sfs = new Map<number, PortEntry[]>();
    for (const device of devices) {
      for (const [n, list] of this.vfsByDevice.get(device) ?? []) for (const e of list) push(vfs, n, e);
      for (const [n, list] of this.sfsByDevice.get(device) ?? []) for (const e of list) push(sfs, n, e);
    }
    if (vfs.size === 0 && sfs.size === 0 && uplink !== undefined) this.collectBySwitch(uplink, vfs, sfs);
    return { vfs, sfs };
  }

  /**
   * Representors that sysfs does not put under the PF's PCI device (kernels
   * before 5.8, bnxt before 2023, drivers following representors.rst): same
   * phys_switch_id AND same PF number, since one switch id can span several
   * PFs (dual-port and multi-socket NICs). The PF number is taken to be the
   * uplink's PCI function, as bnxt and os-vif do.
   */
  private collectBySwitch(uplink: NetdevFacts, vfs: Map<number, PortEntry[]>, sfs: Map<number, PortEntry[]>): void {
    const bdf = uplink.deviceName;
    if (uplink.physSwitchId === undefined || bdf === undefined || !isPciAddress(bdf)) return;
    const pf = pciFunction(bdf);
    for (const p of this.bySwitch.get(uplink.physSwitchId) ?? []) {
      if (p.parsed.kind === 'vf' && p.parsed.pf === pf) push(vfs, p.parsed.vf, p.entry);
      if (p.parsed.kind === 'sf' && p.parsed.pf === pf) push(sfs, p.parsed.sf, p.entry);
    }
  }
}

function uplinkAnchor(
  mac: string,
  entry: PortEntry,
  devices: readonly string[],
  local: LocalFunctions,
  facts: NetdevFacts,
  viaDevlink: boolean,
): Anchor {
  const { vfs, sfs } = local.collect(devices, facts);
  return { kind: 'uplink', mac, tier: 1, devices, port: entry, viaDevlink, pfReps: undefined, vfs, sfs };
}

/**
 * The compat MAC without devlink: functions are the netdevs on the uplink's
 * PCI device named c<ctrl>pf<N>vf<M> (pf<N>vf<M> on kernels before 5.10, which
 * print no controller prefix at all: used only when no netdev there has one).
 */
function compatAnchor(mac: string, uplink: PortEntry, device: string, pf: number, sysfsPorts: readonly SysfsPort[]): Anchor {
  const onDevice = sysfsPorts.filter((p) => p.entry.device === device && p.parsed.kind !== 'uplink');
  const prefixed = onDevice.some((p) => p.parsed.kind !== 'uplink' && p.parsed.controller !== undefined);
  const pfReps: PortEntry[] = [];
  const vfs = new Map<number, PortEntry[]>();
  const sfs = new Map<number, PortEntry[]>();
  for (const { parsed, entry } of onDevice) {
    if (parsed.kind === 'uplink' || parsed.pf !== pf || (parsed.controller !== undefined) !== prefixed) continue;
    if (parsed.kind === 'pf') pfReps.push(entry);
    else if (parsed.kind === 'vf') push(vfs, parsed.vf, entry);
    else push(sfs, parsed.sf, entry);
  }
  return { kind: 'compat', mac, tier: 0, devices: [device], pfnum: pf, port: uplink, viaDevlink: false, pfReps, vfs, sfs };
}

function pciDevice(facts: NetdevFacts): string[] {
  return facts.deviceName !== undefined && isPciAddress(facts.deviceName) ? [`pci/${facts.deviceName}`] : [];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
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

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

