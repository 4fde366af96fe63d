/**
 * Hosts laid out from a description: the sysfs side of a devlink listing as
 * the kernel would show it, and a large generated host for scale tests and
 * the bench.
 */

import { kernelPhysPortName, type DevlinkJson, type DevlinkJsonPort } from './devlink-text';
import type { FakeHost } from './fake-host';
import { EOPNOTSUPP, type NetdevParent, type TreeRoom } from './sysfs-tree';
import { BLUEFIELD_VPD, vpdBytes } from './vpd';

// ---------------------------------------------------------------------------
// Laying out a host from a devlink listing
// ---------------------------------------------------------------------------

export interface UplinkSpec {
  readonly address: string;
  /** The PCI function the uplink netdev sits on; defaults to the devlink device when it is a PCI one. */
  readonly pci?: string;
  readonly smartNicPfMac?: string;
  /** A bond slave's permanent MAC (its address is then the bond's). */
  readonly permAddress?: string;
}

export interface LayoutOptions {
  /** Uplink (physical port) netdevs by name. */
  readonly uplinks?: Readonly<Record<string, UplinkSpec>>;
  /** The phys_switch_id of every switchdev netdev (one switch). */
  readonly switchId?: string;
  /** PF of each VF PCI function (flavour virtual ports are VF netdevs). */
  readonly physfn?: Readonly<Record<string, string>>;
}

/**
 * Builds the sysfs side of a devlink listing as the kernel would show it:
 * every port's netdev under its PCI device (representors are linked to the
 * PF's device since kernel 5.8), with the phys_port_name the kernel prints
 * for its flavour (EOPNOTSUPP for virtual ports), uplinks with their MAC.
 */
export function layOutDevlinkHost(host: FakeHost, json: DevlinkJson, options: LayoutOptions = {}): void {
  const switchId = options.switchId ?? 'c2cfc60003a1420c';
  for (const [handle, attrs] of Object.entries(json.port)) {
    if (attrs.netdev === undefined) continue;
    const last = handle.lastIndexOf('/');
    const first = handle.indexOf('/');
    const bus = handle.slice(0, first);
    const dev = handle.slice(first + 1, last);
    const uplink = options.uplinks?.[attrs.netdev];
    let parent: NetdevParent;
    if (uplink?.pci !== undefined) parent = { pci: uplink.pci };
    else if (bus === 'pci') {
      const pf = options.physfn?.[dev];
      if (pf !== undefined) host.addPciDevice(dev, { physfn: pf, vfIndex: Object.keys(options.physfn!).filter((k) => options.physfn![k] === pf).indexOf(dev) });
      parent = { pci: dev };
    } else parent = { device: dev, bus };
    host.addNetdev({
      name: attrs.netdev,
      parent,
      ...(uplink !== undefined ? { address: uplink.address } : {}),
      ...(uplink?.smartNicPfMac !== undefined ? { smartNicPfMac: uplink.smartNicPfMac } : {}),
      ...(uplink?.permAddress !== undefined ? { permAddress: uplink.permAddress } : {}),
      physPortName: kernelPhysPortName(attrs) ?? EOPNOTSUPP,
      ...(attrs.flavour === 'virtual' ? {} : { physSwitchId: switchId }),
    });
  }
  host.setDevlinkPorts(json);
}

// ---------------------------------------------------------------------------
// The hypervisor of a BlueField DPU
// ---------------------------------------------------------------------------

/** The host PF's MAC on layOutHypervisor(): also the function hw_addr the DPU sees (harness.ts DPU_HOST_PF_MAC). */
export const HYPERVISOR_PF_MAC = 'b8:3f:d2:e1:8f:dc';

/**
 * The host side of a BlueField: PF 0000:05:00.0 (enp5s0f0, a plain NIC here:
 * its representors live on the DPU), VFs 0-3 at 0000:05:00.3-6 with their
 * netdevs, the card's VPD (serial MT2113X00001), and no devlink.
 */
export function layOutHypervisor(host: FakeHost): FakeHost {
  host.addNetdev({ name: 'enp5s0f0', parent: { pci: '0000:05:00.0' }, address: HYPERVISOR_PF_MAC });
  for (let i = 0; i < 4; i++) {
    const vf = `0000:05:00.${3 + i}`;
    host.addPciDevice(vf, { physfn: '0000:05:00.0', vfIndex: i });
    host.addNetdev({ name: `enp5s0f0v${i}`, parent: { pci: vf } });
  }
  host.setVpd('0000:05:00.0', vpdBytes(BLUEFIELD_VPD));
  host.setDevlinkBehaviour('no-netlink');
  return host;
}

// ---------------------------------------------------------------------------
// A large host: 64 PFs x 256 VFs
// ---------------------------------------------------------------------------

export interface LargeHost {
  readonly pfs: readonly { readonly bdf: string; readonly uplink: string; readonly mac: string }[];
  readonly vfsPerPf: number;
  /** The representor netdev of VF `vf` of PF number `pf` (index into pfs). */
  repName(pf: number, vf: number): string;
  readonly json: DevlinkJson;
}

/**
 * A ConnectX-like host with `pfCount` PFs in switchdev mode and `vfsPerPf`
 * VFs each: devlink JSON and sysfs (uplinks and representors; the VFs' own
 * PCI functions are left out to keep generation fast, the provider does not
 * read them). 64 x 256 = 16,384 representors.
 */
/**
 * What generateLargeHost writes: per representor a netdev directory with its
 * five attribute files, its device and class/net links; per PF the same for
 * its uplink and its PCI function. Counted on a generated host: 64 x 256 gave
 * 82,304 files among 131,852 entries.
 */
export function largeHostRoom(pfCount = 64, vfsPerPf = 256): TreeRoom {
  const netdevs = pfCount * (vfsPerPf + 1);
  return { files: netdevs * 5 + pfCount * 4, entries: netdevs * 8 + pfCount * 12 };
}

export function generateLargeHost(host: FakeHost | undefined, pfCount = 64, vfsPerPf = 256): LargeHost {
  const pfs: { bdf: string; uplink: string; mac: string }[] = [];
  const port: Record<string, DevlinkJsonPort> = {};
  const repName = (pf: number, vf: number): string => `r${pf}v${vf}`;
  for (let p = 0; p < pfCount; p++) {
    const bus = (0x10 + (p >> 1)).toString(16).padStart(2, '0');
    const bdf = `0000:${bus}:00.${p & 1}`;
    const uplink = `enp${p}np${p & 1}`;
    const mac = `0c:42:a1:00:${(p >> 8).toString(16).padStart(2, '0')}:${(p & 0xff).toString(16).padStart(2, '0')}`;
    pfs.push({ bdf, uplink, mac });
    port[`pci/${bdf}/65535`] = { type: 'eth', netdev: uplink, flavour: 'physical', port: p & 1, splittable: false };
    host?.addNetdev({ name: uplink, parent: { pci: bdf }, address: mac, physPortName: `p${p & 1}`, physSwitchId: `b8cef6030000${bus}` });
    for (let v = 0; v < vfsPerPf; v++) {
      const name = repName(p, v);
      port[`pci/${bdf}/${v + 1}`] = {
        type: 'eth',
        netdev: name,
        flavour: 'pcivf',
        controller: 0,
        pfnum: p & 1,
        vfnum: v,
        external: false,
        splittable: false,
        function: { hw_addr: '00:00:00:00:00:00' },
      };
      host?.addNetdev({ name, parent: { pci: bdf }, physPortName: `pf${p & 1}vf${v}`, physSwitchId: `b8cef6030000${bus}` });
    }
  }
  const json = { port };
  host?.setDevlinkPorts(json);
  return { pfs, vfsPerPf, repName, json };
}
