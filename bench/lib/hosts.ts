/**
 * The hosts the representor cases run against: `pfs` PFs with `vfsPerPf` VF
 * representors each, in the host-switchdev shape, made by the test suite's own
 * FakeHost and generateLargeHost (test/helpers/host/), stand-in `devlink` and
 * `ip` included. What crosses to the bench's child processes is plain data: the
 * in-process index is built from the host's devlink JSON plus the uplink facts
 * sysfs holds, the naive lookup scans its sysfs tree, and the representor
 * provider reads it through --sysfs-root and the stand-ins.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { NetdevFacts } from '../../src/providers/representor/snapshot';
import { FakeHost } from '../../test/helpers/host/fake-host';
import { generateLargeHost, largeHostRoom } from '../../test/helpers/host/layouts';

export interface BenchHost {
  readonly dir: string;
  readonly pfs: number;
  readonly vfsPerPf: number;
  readonly representors: number;
  readonly sysfsRoot: string;
  /** `devlink -j port show` output, as a file the bench reads. */
  readonly devlinkJsonPath: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  /** The uplinks as the inventory sees them (what a refresh reads from sysfs). */
  readonly uplinks: readonly NetdevFacts[];
  /** By PF number. */
  readonly pfMacs: readonly string[];
  /** Representor netdev of (pf, vf) at pf * vfsPerPf + vf. */
  readonly repNames: readonly string[];
}

/** A fake host with `pfs` x `vfsPerPf` representors; cleanup() removes it. */
export function writeHost(pfs: number, vfsPerPf: number): { host: BenchHost; cleanup(): void } {
  const fake = new FakeHost(largeHostRoom(pfs, vfsPerPf));
  try {
    const large = generateLargeHost(fake, pfs, vfsPerPf);
    // The file the devlink stand-in prints.
    const devlinkJsonPath = join(fake.dir, 'devlink-ports.json');
    const net = join(fake.sysfsRoot, 'class', 'net');
    const attr = (name: string, a: string): string => readFileSync(join(net, name, a), 'utf8').trim();
    const uplinks = large.pfs.map(
      (p): NetdevFacts => ({
        name: p.uplink,
        ifindex: Number(attr(p.uplink, 'ifindex')),
        address: p.mac,
        physPortName: attr(p.uplink, 'phys_port_name'),
        physSwitchId: attr(p.uplink, 'phys_switch_id'),
        deviceName: p.bdf,
        onVirtualFunction: false,
      }),
    );
    const repNames: string[] = [];
    for (let pf = 0; pf < pfs; pf++) for (let vf = 0; vf < vfsPerPf; vf++) repNames.push(large.repName(pf, vf));
    const host: BenchHost = {
      dir: fake.dir,
      pfs,
      vfsPerPf,
      representors: pfs * vfsPerPf,
      sysfsRoot: fake.sysfsRoot,
      devlinkJsonPath,
      devlinkBin: fake.devlinkBin,
      ipBin: fake.ipBin,
      uplinks,
      pfMacs: large.pfs.map((p) => p.mac),
      repNames,
    };
    return { host, cleanup: () => fake.remove() };
  } catch (err) {
    fake.remove();
    throw err;
  }
}

/** A small deterministic PRNG (mulberry32), so that every run asks for the same ports. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PortPick {
  readonly pf: number;
  readonly vf: number;
  readonly pfMac: string;
  readonly netdev: string;
}

/** `count` random (PF, VF) pairs of the host. */
export function pickPorts(host: Pick<BenchHost, 'pfs' | 'vfsPerPf' | 'pfMacs' | 'repNames'>, count: number, seed = 42): PortPick[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const pf = Math.floor(random() * host.pfs);
    const vf = Math.floor(random() * host.vfsPerPf);
    return { pf, vf, pfMac: host.pfMacs[pf]!, netdev: host.repNames[pf * host.vfsPerPf + vf]! };
  });
}

/** The lport options OVN would forward for a port plugged on that representor. */
export function representorOptions(pick: PortPick): Map<string, string> {
  return new Map([
    ['vif-plug-type', 'representor'],
    ['vif-plug:representor:pf-mac', pick.pfMac],
    ['vif-plug:representor:vf-num', String(pick.vf)],
  ]);
}
