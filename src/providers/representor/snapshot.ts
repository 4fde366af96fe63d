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

import { DevlinkError, type DevlinkSource } from './devlink';
import type { DevlinkPort } from './devlink-ports';
import { isUsableMac } from './mac';
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
}

export type DevlinkReading =
  | { readonly ok: true; readonly ports: readonly DevlinkPort[]; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly error: DevlinkError };

export interface Snapshot {
  readonly devlink: DevlinkReading;
  /** Facts of the netdevs that were read, by name. */
  readonly netdevs: ReadonlyMap<string, NetdevFacts>;
  /** Problems met while reading, for the log (bounded). */
  readonly warnings: readonly string[];
}

/** Parallel sysfs reads: enough to hide latency, few enough not to flood libuv's thread pool. */
const READ_CONCURRENCY = 32;
const MAX_WARNINGS = 20;

export async function collectSnapshot(devlink: DevlinkSource, sysfs: SysfsReader): Promise<Snapshot> {
  const [reading, names] = await Promise.all([readDevlink(devlink), sysfs.netdevNames()]);
  const warnings: string[] = reading.ok ? [...reading.warnings] : [];
  const netdevs = new Map<string, NetdevFacts>();
  const ports = reading.ok ? reading.ports : [];
  const described = new Set<string>();
  const uplinks = new Set<string>();
  for (const port of ports) {
    if (port.netdev === undefined) continue;
    described.add(port.netdev);
    if (port.flavour === 'physical') uplinks.add(port.netdev);
  }
  // Old kernels report the host PF's MAC only in the compat file of the uplink.
  const needCompat = !reading.ok || ports.some((p) => p.flavour === 'pcipf' && !isUsableMac(p.hwAddr));

  const warn = (name: string, err: unknown): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(`sysfs: skipped netdev ${name}: ${err instanceof Error ? err.message : String(err)}`);
  };
  await forEachLimit([...uplinks], READ_CONCURRENCY, async (name) => {
    try {
      netdevs.set(name, await readUplink(sysfs, name, undefined, needCompat));
    } catch (err) {
      warn(name, err);
    }
  });
  await forEachLimit(
    names.filter((name) => !described.has(name)),
    READ_CONCURRENCY,
    async (name) => {
      try {
        const facts = await readUndescribed(sysfs, name);
        if (facts !== undefined) netdevs.set(name, facts);
      } catch (err) {
        warn(name, err);
      }
    },
  );
  return { devlink: reading, netdevs, warnings };
}

async function readDevlink(devlink: DevlinkSource): Promise<DevlinkReading> {
  try {
    const parsed = await devlink.readPorts();
    return { ok: true, ports: parsed.ports, warnings: parsed.warnings };
  } catch (err) {
    const error = err instanceof DevlinkError ? err : new DevlinkError('failed', `devlink source failed: ${String(err)}`);
    return { ok: false, error };
  }
}

/** A netdev devlink does not describe: only switchdev ports (those with a phys_port_name we understand) are read further. */
async function readUndescribed(sysfs: SysfsReader, name: string): Promise<NetdevFacts | undefined> {
  const physPortName = await sysfs.attribute(name, 'phys_port_name');
  if (physPortName === undefined) return undefined;
  const parsed = parsePhysPortName(physPortName);
  if (parsed === undefined) return undefined;
  if (parsed.kind === 'uplink') return readUplink(sysfs, name, physPortName, true);
  const [ifindex, deviceName, physSwitchId] = await Promise.all([
    sysfs.ifindex(name),
    sysfs.deviceName(name),
    sysfs.attribute(name, 'phys_switch_id'),
  ]);
  return withoutUndefined({ name, physPortName, ifindex, deviceName, physSwitchId });
}

async function readUplink(sysfs: SysfsReader, name: string, knownPhysPortName: string | undefined, compat: boolean): Promise<NetdevFacts> {
  const [address, ifindex, physPortName, physSwitchId, deviceName, onVirtualFunction, smartNicPfMac] = await Promise.all([
    sysfs.address(name),
    sysfs.ifindex(name),
    knownPhysPortName ?? sysfs.attribute(name, 'phys_port_name'),
    sysfs.attribute(name, 'phys_switch_id'),
    sysfs.deviceName(name),
    sysfs.isOnVirtualFunction(name),
    compat ? sysfs.smartNicPfMac(name) : undefined,
  ]);
  return withoutUndefined({ name, address, ifindex, physPortName, physSwitchId, deviceName, onVirtualFunction, smartNicPfMac });
}


async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
