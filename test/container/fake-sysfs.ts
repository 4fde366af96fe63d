import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

/**
 * A small host /sys of a switchdev NIC without devlink, laid out as the
 * kernel lays it out (real directories and relative symlinks, so that the
 * tree still resolves when mounted elsewhere, e.g. read-only at /host/sys in
 * a container):
 *
 *   devices/pci0000:00/0000:07:00.0/net/enp7s0f0/      uplink, phys_port_name p0
 *   devices/pci0000:00/0000:07:00.0/net/enp7s0f0_<n>/  VF representors, pf0vf<n>
 *   devices/pci0000:00/0000:07:00.1/net/enp7s0f1/      second port, p1, no VFs
 *   devices/virtual/net/lo/                            no device link, no phys_port_name
 *   <netdev dir>/device -> ../../../<bdf>
 *   class/net/<if> -> ../../devices/.../net/<if>
 *   bus/pci/devices/<bdf> -> ../../../devices/pci0000:00/<bdf>
 *
 * Representors share the uplink's phys_switch_id, as on mlx5.
 */
export interface FakeHost {
  readonly root: string;
  /** The uplink's MAC: the pf-mac that selects its VFs. */
  readonly pfMac: string;
  /** VF number -> representor netdev. */
  readonly vfRepresentors: ReadonlyMap<number, string>;
}

const SWITCH_ID = '3a9cdffd70100000';

export function buildFakeSysfs(root: string, vfCount = 4): FakeHost {
  const pfMac = '10:70:fd:df:9c:3a';
  const vfRepresentors = new Map<number, string>();
  let ifindex = 1;
  addNetdev(root, 'lo', { address: '00:00:00:00:00:00', ifindex: ifindex++ });
  addNetdev(root, 'enp7s0f0', { bdf: '0000:07:00.0', address: pfMac, physPortName: 'p0', ifindex: ifindex++ });
  addNetdev(root, 'enp7s0f1', { bdf: '0000:07:00.1', address: '10:70:fd:df:9c:3b', physPortName: 'p1', ifindex: ifindex++ });
  for (let vf = 0; vf < vfCount; vf++) {
    const name = `enp7s0f0_${vf}`;
    addNetdev(root, name, {
      bdf: '0000:07:00.0',
      // Representors have random locally administered addresses.
      address: `2a:5e:0c:7d:00:${vf.toString(16).padStart(2, '0')}`,
      physPortName: `pf0vf${vf}`,
      ifindex: ifindex++,
    });
    vfRepresentors.set(vf, name);
  }
  return { root, pfMac, vfRepresentors };
}

interface NetdevSpec {
  /** PCI device the netdev hangs off; none for virtual devices. */
  readonly bdf?: string;
  readonly address: string;
  readonly physPortName?: string;
  readonly ifindex: number;
}

function addNetdev(root: string, name: string, spec: NetdevSpec): void {
  const deviceDir = spec.bdf === undefined ? join(root, 'devices', 'virtual') : join(root, 'devices', 'pci0000:00', spec.bdf);
  const dir = join(deviceDir, 'net', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'address'), `${spec.address}\n`);
  writeFileSync(join(dir, 'ifindex'), `${spec.ifindex}\n`);
  if (spec.physPortName !== undefined) {
    writeFileSync(join(dir, 'phys_port_name'), `${spec.physPortName}\n`);
    writeFileSync(join(dir, 'phys_switch_id'), `${SWITCH_ID}\n`);
  }
  if (spec.bdf !== undefined) {
    link(join(dir, 'device'), deviceDir);
    const bus = join(root, 'bus', 'pci', 'devices', spec.bdf);
    mkdirSync(dirname(bus), { recursive: true });
    try {
      link(bus, deviceDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  mkdirSync(join(root, 'class', 'net'), { recursive: true });
  link(join(root, 'class', 'net', name), dir);
}

/**
 * A relative symlink at `at` pointing to `target`, spelled as sysfs spells
 * them: up to the target's parent, then its name (device -> ../../../0000:07:00.0,
 * never the shorter "../.." that names the same directory without its name).
 */
function link(at: string, target: string): void {
  symlinkSync(join(relative(dirname(at), dirname(target)), basename(target)), at);
}
