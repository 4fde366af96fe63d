/**
 * What the representor provider answers for a chassis whose integration
 * bridge runs the userspace datapath (use_dpdk: br-int datapath_type=netdev,
 * as OVS-DOCA and OVS-DPDK run it): an Interface of type "dpdk" named after
 * the representor netdev, and, when vifplugd is told so
 * (--representor-dpdk-devargs), options:dpdk-devargs that tell DPDK which
 * port of which PCI device it is. Pure: the facts come from the devlink port
 * and the PCI device's driver, read with the rest of the hardware.
 *
 * The devargs are `<PCI address>,representor=[c<C>]pf<P>vf<N>` (or sf<N>), the
 * ethdev syntax (DPDK's prog_guide/ethdev, "representor"). The PCI address
 * and the PF and VF/SF numbers are devlink's; the controller is where vendors
 * differ, and it is written only for a driver whose numbering is known
 * (VENDORS below). Anything else is refused, never guessed: DPDK addressing
 * another port than the one OVN asked for is a wrong plug.
 */

import type { PortEntry } from './port-entry';

/** The Interface type OVS gives DPDK ports. */
export const DPDK_TYPE = 'dpdk';
/** options:dpdk-devargs: which DPDK port the Interface is. */
export const DPDK_DEVARGS_OPTION = 'dpdk-devargs';
/** options:dpdk-vf-mac: a VF's MAC set by OVS-DPDK; never answered, maintained so that a replug clears it. */
export const DPDK_VF_MAC_OPTION = 'dpdk-vf-mac';

/** The interface options the provider owns: a caller removes those it no longer answers. */
export const MAINTAINED_IFACE_OPTIONS: readonly string[] = [DPDK_DEVARGS_OPTION, DPDK_VF_MAC_OPTION];

/** How a driver's representors are named in DPDK devargs, as far as it is known. */
interface VendorNumbering {
  /** The DPDK driver that serves it, for messages. */
  readonly pmd: string;
  /**
   * The `c<N>` to write for a port of `controller` (devlink's number);
   * undefined: a controller prefix is not needed (the local controller).
   */
  readonly controller: (controller: number, external: boolean) => { readonly prefix: string } | { readonly refused: string };
  /** Why DPDK cannot tell this port apart from another on the same device, if it cannot. */
  readonly collides: (entry: PortEntry, other: PortEntry) => boolean;
}

/**
 * The drivers whose DPDK numbering is known. Written down in
 * docs/representor.md ("DPDK devargs and each vendor's numbering").
 *
 * mlx5_core (ConnectX, BlueField): DPDK's mlx5 driver reads each
 * representor's controller, PF and VF/SF numbers from its phys_port_name, the
 * kernel's own (c1pf0vf3: controller 1), so `c<N>` is devlink's controller as
 * it is. The kernel numbers the local controller 0 and an external host
 * (a BlueField's host) host_number + 1, i.e. 1 for the first host
 * (esw/devlink_port.c). When probing, the mlx5 driver matches the PF and
 * VF/SF numbers alone, not the controller: two ports of one device that
 * differ only in their controller (a DPU's own VF 0 and its host's VF 0)
 * cannot be told apart there, and are refused.
 */
const VENDORS: ReadonlyMap<string, VendorNumbering> = new Map([
  [
    'mlx5_core',
    {
      pmd: 'mlx5',
      controller: (controller, external) => (controller === 0 && !external ? { prefix: '' } : { prefix: `c${controller}` }),
      collides: (entry, other) =>
        other !== entry &&
        other.flavour === entry.flavour &&
        other.pfnum === entry.pfnum &&
        other.vfnum === entry.vfnum &&
        other.sfnum === entry.sfnum &&
        (other.controller ?? 0) !== (entry.controller ?? 0),
    },
  ],
]);

/** Why no devargs are known for a driver that vifplug does not know, when there is more to say. */
const UNKNOWN_DRIVERS: ReadonlyMap<string, string> = new Map([
  ['ice', "DPDK's ice driver reaches representors through a DCF (a VF with cap=dcf), another PCI address than the PF's"],
  ['netdevsim', 'netdevsim is a kernel test device that DPDK does not drive'],
]);

export type DevargsOutcome =
  | { readonly ok: true; readonly devargs: string }
  | { readonly ok: false; readonly message: string; readonly metadata: Readonly<Record<string, string>> };

/**
 * The devargs of `entry`, or why there are none. `driver` is the driver
 * bound to its PCI device (undefined: none or unreadable); `sameDevice` the
 * other ports of its devlink device.
 */
export function dpdkDevargs(entry: PortEntry, driver: string | undefined, sameDevice: readonly PortEntry[]): DevargsOutcome {
  const refuse = (why: string, extra: Record<string, string> = {}): DevargsOutcome => ({
    ok: false,
    message: `no dpdk-devargs for ${describe(entry)}: ${why}. Leave --representor-dpdk-devargs off (OVS-DOCA opens type=dpdk ports by their netdev name) or set options:dpdk-devargs on the Interface yourself`,
    metadata: { netdev: entry.netdev, device: entry.device, ...extra },
  });
  if (entry.source !== 'devlink') return refuse('it is seen in sysfs only, and its PF number on the eswitch device is devlink\'s to say');
  const bdf = entry.device.startsWith('pci/') ? entry.device.slice('pci/'.length) : undefined;
  if (bdf === undefined) return refuse(`its devlink device ${entry.device} is not a PCI device, and DPDK probes PCI devices`);
  if (entry.flavour === 'pcipf') {
    return refuse('DPDK names a host PF representor as a VF (65535, or -1) differently across releases');
  }
  const kind = entry.flavour === 'pcivf' ? 'vf' : entry.flavour === 'pcisf' ? 'sf' : undefined;
  const num = kind === 'vf' ? entry.vfnum : kind === 'sf' ? entry.sfnum : undefined;
  if (kind === undefined || num === undefined || entry.pfnum === undefined) {
    return refuse(`devlink gives it no PF and VF/SF number (flavour ${entry.flavour || 'unknown'})`);
  }
  if (driver === undefined) return refuse(`no driver is bound to PCI device ${bdf} (its sysfs driver link), so its DPDK numbering is unknown`);
  const vendor = VENDORS.get(driver);
  if (vendor === undefined) {
    const more = UNKNOWN_DRIVERS.get(driver);
    return refuse(`the DPDK numbering of driver ${driver}'s representors is not known to vifplug${more === undefined ? '' : ` (${more})`}; known: ${[...VENDORS.keys()].join(', ')}`, { driver });
  }
  const controller = vendor.controller(entry.controller ?? 0, entry.external === true);
  if ('refused' in controller) return refuse(controller.refused, { driver });
  const twin = sameDevice.find((other) => vendor.collides(entry, other));
  if (twin !== undefined) {
    return refuse(
      `DPDK's ${vendor.pmd} driver matches representors by PF and ${kind.toUpperCase()} number alone when it probes them, and ${describe(twin)} on the same device has the same numbers under another controller`,
      { driver, candidates: `${entry.netdev},${twin.netdev || twin.key}` },
    );
  }
  return { ok: true, devargs: `${bdf},representor=${controller.prefix}pf${entry.pfnum}${kind}${num}` };
}

function describe(entry: PortEntry): string {
  const where = entry.source === 'devlink' ? entry.key : entry.device || 'sysfs';
  return `${entry.netdev || 'a port without a netdev'} (${where})`;
}
