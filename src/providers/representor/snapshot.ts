/**
 * One full reading of the hardware: every devlink port, plus the sysfs facts
 * the lookup needs. This is the only module that combines the two seams; what
 * the facts mean is decided in inventory.ts, without I/O.
 *
 * With devlink available, sysfs is read only for what devlink lacks: the
 * address and device link of uplink netdevs, the smart_nic compat file when a
 * pcipf port has no MAC, and netdevs devlink does not describe (drivers such
 * as bnxt and nfp register no devlink VF ports). Representor netdevs that
 * devlink names are not read at all, so a host with 16k representors costs
 * one directory listing, not 16k x 4 file reads. Without devlink every
 * netdev's phys_port_name is read, and the rest only for switchdev ports.
 */

import { describeError } from '../../registry/errors';
import { DevlinkError, type DevlinkSource } from './devlink';
import { DroppedTally, type Dropped } from './dropped';
import type { DevlinkPort } from './devlink-ports';
import { isUsableMac } from './mac';
import { isPciAddress } from './names';
import { withoutUndefined } from './objects';
import { parsePhysPortName } from './phys-port-name';
import type { SysfsReader } from './sysfs';

/** What sysfs shows about one netdev. Absent fields had no value (or were not read). */
export interface NetdevFacts {
  readonly name: string;
  readonly ifindex?: number;
  readonly address?: string;
  readonly physPortName?: string;
  readonly physSwitchId?: string;
  /** Basename of the `device` link: a PCI address for PF/VF/representor netdevs. */
  readonly deviceName?: string;
  /** The device is an SR-IOV VF (its sysfs dir has a `physfn` link). */
  readonly onVirtualFunction?: boolean;
  /** The host PF MAC from smart_nic/pf/config (BlueField compat interface). */
  readonly smartNicPfMac?: string;
  /** A bond slave's permanent MAC (its current `address` is the bond's). */
  readonly permAddress?: string;
  /** The VF indexes of its PCI device (virtfnN links); read for PF netdevs only. */
  readonly vfIndexes?: readonly number[];
}

export type DevlinkReading =
  | { readonly ok: true; readonly ports: readonly DevlinkPort[]; readonly warnings: readonly Dropped[] }
  | { readonly ok: false; readonly error: DevlinkError };

export interface Snapshot {
  readonly devlink: DevlinkReading;
  /** Facts of the netdevs that were read, by name. */
  readonly netdevs: ReadonlyMap<string, NetdevFacts>;
  /** What was left out while reading, per cause, for the log. */
  readonly warnings: readonly Dropped[];
  /** The driver bound to each PCI device devlink shows ports on (mlx5_core, ice, ...), by PCI address. */
  readonly pciDrivers: ReadonlyMap<string, string>;
}

/** Parallel sysfs reads: enough to hide latency, few enough not to flood libuv's thread pool. */
const READ_CONCURRENCY = 32;

/**
 * The sysfs part of a reading, for what devlink's `reading` lacks. Separate
 * from readDevlink so that a refresh whose devlink failed can stop before
 * sysfs (without devlink, that is every netdev: 16k x 4 file reads).
 */
export async function collectSnapshot(reading: DevlinkReading, sysfs: SysfsReader): Promise<Snapshot> {
  const names = await sysfs.netdevNames();
  const tally = new DroppedTally();
  if (reading.ok) tally.merge(reading.warnings);
  const netdevs = new Map<string, NetdevFacts>();
  const ports = reading.ok ? reading.ports : [];
  const described = new Set<string>();
  const uplinks = new Set<string>();
  // VF netdevs of a NIC whose eswitch is elsewhere (or in legacy mode): read for refusals only.
  const virtual = new Set<string>();
  for (const port of ports) {
    if (port.netdev === undefined) continue;
    described.add(port.netdev);
    if (port.flavour === 'physical') uplinks.add(port.netdev);
    if (port.flavour === 'virtual') virtual.add(port.netdev);
  }
  // Old kernels report the host PF's MAC only in the compat file of the uplink.
  const needCompat = !reading.ok || ports.some((p) => p.flavour === 'pcipf' && !isUsableMac(p.hwAddr));

  const warn = (name: string, err: unknown): void => {
    const code = (err as { code?: unknown } | null)?.code;
    tally.note(`sysfs netdev unreadable (${typeof code === 'string' ? code : 'error'})`, `sysfs: skipped netdev ${name}: ${describeError(err)}`);
  };
  const readAll = (list: readonly string[], read: (name: string) => Promise<NetdevFacts | undefined>): Promise<void> =>
    forEachLimit(list, READ_CONCURRENCY, async (name) => {
      try {
        const facts = await read(name);
        if (facts !== undefined) netdevs.set(name, facts);
      } catch (err) {
        warn(name, err);
      }
    });
  await readAll([...uplinks], (name) => readUplink(sysfs, name, undefined, needCompat));
  await readAll([...virtual], (name) => readPlain(sysfs, name, undefined));
  await readAll(
    names.filter((name) => !described.has(name)),
    (name) => readUndescribed(sysfs, name),
  );
  const pciDrivers = await readPciDrivers(sysfs, ports);
  for (const note of sysfs.takeDropped()) tally.merge([note]);
  return { devlink: reading, netdevs, warnings: tally.list(), pciDrivers };
}

/** devlink's part of a reading: its ports, or why there are none. Never throws. */
export async function readDevlink(devlink: DevlinkSource): Promise<DevlinkReading> {
  try {
    const parsed = await devlink.readPorts();
    return { ok: true, ports: parsed.ports, warnings: parsed.warnings };
  } catch (err) {
    const error = err instanceof DevlinkError ? err : new DevlinkError('failed', `devlink source failed: ${String(err)}`);
    return { ok: false, error };
  }
}

/**
 * A netdev devlink does not describe. Switchdev ports (a phys_port_name we
 * understand) are read for the lookup; the others only for what a refusal
 * says about them (a PF MAC given that belongs to a VF, or to a PF whose
 * eswitch is not in switchdev mode).
 */
async function readUndescribed(sysfs: SysfsReader, name: string): Promise<NetdevFacts | undefined> {
  const physPortName = await sysfs.attribute(name, 'phys_port_name');
  const parsed = physPortName === undefined ? undefined : parsePhysPortName(physPortName);
  if (parsed === undefined) return readPlain(sysfs, name, physPortName);
  if (parsed.kind === 'uplink') return readUplink(sysfs, name, physPortName, true);
  const [ifindex, deviceName, physSwitchId] = await Promise.all([
    sysfs.ifindex(name),
    sysfs.deviceName(name),
    sysfs.attribute(name, 'phys_switch_id'),
  ]);
  return withoutUndefined({ name, physPortName, ifindex, deviceName, physSwitchId });
}

async function readUplink(sysfs: SysfsReader, name: string, knownPhysPortName: string | undefined, compat: boolean): Promise<NetdevFacts> {
  const [address, ifindex, physPortName, physSwitchId, deviceName, onVirtualFunction, smartNicPfMac, permAddress] = await Promise.all([
    sysfs.address(name),
    sysfs.ifindex(name),
    knownPhysPortName ?? sysfs.attribute(name, 'phys_port_name'),
    sysfs.attribute(name, 'phys_switch_id'),
    sysfs.deviceName(name),
    sysfs.isOnVirtualFunction(name),
    compat ? sysfs.smartNicPfMac(name) : undefined,
    sysfs.permanentAddress(name),
  ]);
  const vfIndexes = onVirtualFunction ? undefined : await sysfs.vfIndexes(name);
  return withoutUndefined({ name, address, ifindex, physPortName, physSwitchId, deviceName, onVirtualFunction, smartNicPfMac, permAddress, vfIndexes });
}

/** A netdev that is no switchdev port: where it sits, its MAC, and its VFs if it is a PCI PF. */
async function readPlain(sysfs: SysfsReader, name: string, physPortName: string | undefined): Promise<NetdevFacts | undefined> {
  const [address, deviceName, onVirtualFunction] = await Promise.all([sysfs.address(name), sysfs.deviceName(name), sysfs.isOnVirtualFunction(name)]);
  // Loopback, tunnels, bridges, veths: nothing a refusal would name.
  if (address === undefined || deviceName === undefined || !isPciAddress(deviceName)) return undefined;
  const vfIndexes = onVirtualFunction ? undefined : await sysfs.vfIndexes(name);
  return withoutUndefined({ name, address, physPortName, deviceName, onVirtualFunction, vfIndexes });
}


/** The drivers of the few PCI devices devlink shows ports on: how DPDK numbers their representors depends on it. */
async function readPciDrivers(sysfs: SysfsReader, ports: readonly DevlinkPort[]): Promise<Map<string, string>> {
  const devices = new Set<string>();
  for (const port of ports) {
    if (port.device.startsWith('pci/') && isPciAddress(port.device.slice(4))) devices.add(port.device.slice(4));
  }
  const drivers = new Map<string, string>();
  await Promise.all(
    [...devices].map(async (bdf) => {
      const driver = await sysfs.pciDriver(bdf).catch(() => undefined);
      if (driver !== undefined) drivers.set(bdf, driver);
    }),
  );
  return drivers;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
