/**
 * A /sys-like tree under a temp dir, built with real directories and symlinks
 * where the kernel has them. Tests change the "hardware" by adding, removing
 * and renaming netdevs; the provider under test only sees --sysfs-root.
 *
 * Layout (as on a real kernel):
 *   sys/devices/pci<domain>:00/<bdf>/                a PCI function (under its domain's root)
 *   sys/devices/pci0000:00/<bdf>/{virtfnN -> ../<vf>, physfn -> ../<pf>, sriov_numvfs}
 *   sys/devices/pci0000:00/<bdf>/net/<if>/{address, ifindex, phys_port_name, phys_switch_id}
 *   sys/devices/pci0000:00/<bdf>/net/<if>/device -> ../../../<bdf>
 *   sys/devices/pci0000:00/<bdf>/<aux>/net/<if>/device -> ../../../<aux>   (SF netdevs)
 *   sys/devices/virtual/net/<if>/                     no device link
 *   sys/class/net/<if> -> ../../devices/.../net/<if>
 *   sys/bus/pci/devices/<bdf> -> ../../../devices/pci0000:00/<bdf>
 *   sys/devices/pci0000:00/<bdf>/driver -> ../../../bus/pci/drivers/<driver>
 *   sys/devices/pci0000:00/<bdf>/vpd                  the PCI VPD, raw bytes
 *   sys/class/net/<uplink>/smart_nic/pf/config       BlueField compat file
 */

import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

import { nodeSysfs, type SysfsFs } from '../../../src/providers/representor/sysfs';

/** Where a netdev hangs in the device tree. */
export type NetdevParent =
  /** A PCI function (a PF, a VF, or the PF a representor is linked to). */
  | { readonly pci: string }
  /** An auxiliary device under a PCI function, e.g. an SF netdev on mlx5_core.sf.2. */
  | { readonly pci: string; readonly aux: string }
  /** A child device of a PCI function that is neither, e.g. virtio2 (fixture 20). */
  | { readonly pci: string; readonly child: string }
  /** A top-level non-PCI device, e.g. netdevsim10. */
  | { readonly device: string; readonly bus: string }
  /** devices/virtual/net: no device link. */
  | 'virtual';

export interface NetdevSpec {
  readonly name: string;
  readonly parent: NetdevParent;
  readonly address?: string;
  readonly ifindex?: number;
  /** string: the file's content; 'EOPNOTSUPP': the file exists but reading it fails; undefined: no file. */
  readonly physPortName?: string;
  readonly physSwitchId?: string;
  /** Writes smart_nic/pf/config with this MAC. */
  readonly smartNicPfMac?: string;
  /** A bond slave's permanent MAC (bonding_slave/perm_hwaddr; `address` is then the bond's). */
  readonly permAddress?: string;
}

export const EOPNOTSUPP = 'EOPNOTSUPP';

/**
 * What a tree will hold, so that it is placed where there is room for it:
 * `files` regular files (on tmpfs and on disk each takes at least one 4 KiB
 * page or block, however small) among `entries` directory entries in all
 * (files, directories and symlinks: one inode each).
 */
export interface TreeRoom {
  readonly files: number;
  readonly entries: number;
}

/** Enough for every hand-made host of the tests. */
export const SMALL_TREE: TreeRoom = { files: 2_000, entries: 5_000 };

export class SysfsTree {
  readonly sysfsRoot: string;
  /** The temp dir holding the tree (memory-backed when the system offers one). */
  private readonly treeDir: string;
  private readonly unsupported = new Set<string>();
  private nextIfindex = 2;

  constructor(room: TreeRoom = SMALL_TREE) {
    this.treeDir = realpathSync(mkdtempSync(join(tmpDirWithRoom(room), 'vifplug-sys-')));
    this.sysfsRoot = join(this.treeDir, 'sys');
    for (const d of ['class/net', 'devices/pci0000:00', 'devices/virtual/net', 'bus/pci/devices', 'bus/auxiliary/devices']) {
      mkdirSync(join(this.sysfsRoot, d), { recursive: true });
    }
  }

  remove(): void {
    rmSync(this.treeDir, { recursive: true, force: true });
  }

  /** A PCI function; `physfn` makes it a VF of that PF (with the PF's virtfnN link). */
  addPciDevice(bdf: string, options: { physfn?: string; vfIndex?: number } = {}): void {
    const dir = this.pciDir(bdf);
    if (existsSync(dir)) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vendor'), '0x15b3\n');
    symlinkSync(relative(join(this.sysfsRoot, 'bus', 'pci', 'devices'), dir), join(this.sysfsRoot, 'bus', 'pci', 'devices', bdf));
    if (options.physfn !== undefined) {
      this.addPciDevice(options.physfn);
      symlinkSync(`../${options.physfn}`, join(dir, 'physfn'));
      const index = options.vfIndex ?? 0;
      symlinkSync(`../${bdf}`, join(this.pciDir(options.physfn), `virtfn${index}`));
      const numvfs = join(this.pciDir(options.physfn), 'sriov_numvfs');
      const current = existsSync(numvfs) ? Number(readFileSync(numvfs, 'utf8')) : 0;
      writeFileSync(numvfs, `${Math.max(current, index + 1)}\n`);
    }
  }

  /** Binds a PCI function to a driver: bus/pci/drivers/<driver>/ and the device's driver link, as the kernel shows them. */
  setPciDriver(bdf: string, driver: string): void {
    this.addPciDevice(bdf);
    const driverDir = join(this.sysfsRoot, 'bus', 'pci', 'drivers', driver);
    mkdirSync(driverDir, { recursive: true });
    const link = join(this.pciDir(bdf), 'driver');
    if (existsSync(link)) unlinkSync(link);
    symlinkSync(relative(this.pciDir(bdf), driverDir), link);
  }

  /** Writes a PCI function's vpd file (the raw bytes the kernel shows; see vpd.ts for layouts). */
  setVpd(bdf: string, bytes: Uint8Array): void {
    this.addPciDevice(bdf);
    writeFileSync(join(this.pciDir(bdf), 'vpd'), bytes);
  }

  addNetdev(spec: NetdevSpec): void {
    const dir = this.netdevDir(spec.name, spec.parent);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'address'), `${spec.address ?? randomMac(spec.name)}\n`);
    writeFileSync(join(dir, 'ifindex'), `${spec.ifindex ?? this.nextIfindex++}\n`);
    writeFileSync(join(dir, 'type'), '1\n');
    if (spec.physPortName !== undefined) this.writeUnsupportable(join(dir, 'phys_port_name'), spec.physPortName);
    if (spec.physSwitchId !== undefined) writeFileSync(join(dir, 'phys_switch_id'), `${spec.physSwitchId}\n`);
    if (spec.permAddress !== undefined) {
      mkdirSync(join(dir, 'bonding_slave'));
      writeFileSync(join(dir, 'bonding_slave', 'perm_hwaddr'), `${spec.permAddress}\n`);
    }
    if (spec.smartNicPfMac !== undefined) {
      mkdirSync(join(dir, 'smart_nic', 'pf'), { recursive: true });
      writeFileSync(join(dir, 'smart_nic', 'pf', 'config'), `MAC        : ${spec.smartNicPfMac}\nMaxTxRate  : 0\nState      : Follow\n`);
    }
    const device = deviceLinkTarget(spec.parent);
    if (device !== undefined) symlinkSync(device, join(dir, 'device'));
    symlinkSync(relative(join(this.sysfsRoot, 'class', 'net'), dir), join(this.sysfsRoot, 'class', 'net', spec.name));
  }

  removeNetdev(name: string): void {
    const link = join(this.sysfsRoot, 'class', 'net', name);
    const dir = realpathSync(link);
    unlinkSync(link);
    rmSync(dir, { recursive: true, force: true });
  }

  /** What udev does: the same device under a new name. */
  renameNetdev(from: string, to: string): void {
    const link = join(this.sysfsRoot, 'class', 'net', from);
    const dir = realpathSync(link);
    const target = join(dirname(dir), to);
    renameSync(dir, target);
    unlinkSync(link);
    symlinkSync(relative(join(this.sysfsRoot, 'class', 'net'), target), join(this.sysfsRoot, 'class', 'net', to));
    for (const path of [...this.unsupported]) {
      if (path.startsWith(`${dir}/`)) {
        this.unsupported.delete(path);
        this.unsupported.add(join(target, path.slice(dir.length + 1)));
      }
    }
  }

  /** Rewrites one attribute file of a netdev. */
  setAttribute(name: string, attribute: string, value: string): void {
    this.writeUnsupportable(join(realpathSync(join(this.sysfsRoot, 'class', 'net', name)), attribute), value);
  }

  /**
   * The filesystem seam with what a plain file cannot do: reads of files
   * registered as EOPNOTSUPP fail with that code, as the kernel's do.
   */
  fs(): SysfsFs {
    const real = nodeSysfs();
    return {
      read: async (path, maxBytes) => {
        if (this.unsupported.size > 0) {
          const resolved = await realpath(path).catch(() => path);
          if (this.unsupported.has(resolved)) throw Object.assign(new Error(`${path}: Operation not supported`), { code: 'EOPNOTSUPP' });
        }
        return real.read(path, maxBytes);
      },
      readlink: (path) => real.readlink(path),
      readdir: (path) => real.readdir(path),
    };
  }

  /** For assertions on link targets. */
  linkTarget(...path: string[]): string {
    return readlinkSync(join(this.sysfsRoot, ...path));
  }

  private pciDir(bdf: string): string {
    return join(this.sysfsRoot, 'devices', `pci${bdf.slice(0, bdf.indexOf(':'))}:00`, bdf);
  }

  private netdevDir(name: string, parent: NetdevParent): string {
    if (parent === 'virtual') return join(this.sysfsRoot, 'devices', 'virtual', 'net', name);
    if ('device' in parent) {
      const dir = join(this.sysfsRoot, 'devices', parent.device);
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        mkdirSync(join(this.sysfsRoot, 'bus', parent.bus, 'devices'), { recursive: true });
        symlinkSync(`../../../devices/${parent.device}`, join(this.sysfsRoot, 'bus', parent.bus, 'devices', parent.device));
      }
      return join(dir, 'net', name);
    }
    this.addPciDevice(parent.pci);
    if ('aux' in parent) {
      const aux = join(this.pciDir(parent.pci), parent.aux);
      if (!existsSync(aux)) {
        mkdirSync(aux, { recursive: true });
        symlinkSync(relative(join(this.sysfsRoot, 'bus', 'auxiliary', 'devices'), aux), join(this.sysfsRoot, 'bus', 'auxiliary', 'devices', parent.aux));
      }
      return join(aux, 'net', name);
    }
    if ('child' in parent) return join(this.pciDir(parent.pci), parent.child, 'net', name);
    return join(this.pciDir(parent.pci), 'net', name);
  }

  private writeUnsupportable(path: string, value: string): void {
    if (value === EOPNOTSUPP) {
      // The file is there (ls shows it) but reading it fails.
      writeFileSync(path, '');
      this.unsupported.add(path);
    } else {
      writeFileSync(path, `${value}\n`);
      this.unsupported.delete(path);
    }
  }
}

/** /dev/shm when it is a writable directory, else the OS temp dir. */
/**
 * /dev/shm when it has room for the tree, else the temp dir, else an error
 * that says what the tree needs and what each place has. The tree of a large
 * host is ~130k inodes: on a disk under load creating and removing them takes
 * minutes, on tmpfs a second; but a container's /dev/shm is a 64 MiB tmpfs
 * (podman's and Docker's default --shm-size), where 82k one-line files take
 * 329 MiB (a page each) and the write fails with ENOSPC.
 */
export function tmpDirWithRoom(room: TreeRoom): string {
  const PAGE = 4096;
  const MARGIN = 1.25;
  const seen: string[] = [];
  const candidates = [tmpdir()];
  try {
    accessSync('/dev/shm', constants.W_OK);
    candidates.unshift('/dev/shm');
  } catch {
    // no memory-backed temp dir to prefer
  }
  for (const dir of candidates) {
    const fs = statfsSync(dir);
    const freeBytes = fs.bavail * fs.bsize;
    const needBytes = room.entries * Math.max(PAGE, fs.bsize) * MARGIN;
    // Some file systems (btrfs, overlay on it) report no inode count at all.
    const inodesOk = fs.files === 0 || fs.ffree >= room.entries * MARGIN;
    if (freeBytes >= needBytes && inodesOk) return dir;
    seen.push(`${dir} has ${mib(freeBytes)} and ${fs.files === 0 ? 'unreported' : fs.ffree} inodes free`);
  }
  throw new Error(
    `a fake host of ${room.files} files (${room.entries} entries) needs about ${mib(room.entries * PAGE * MARGIN)} and ` +
      `${Math.ceil(room.entries * MARGIN)} inodes in a temp dir, a page each: ${seen.join('; ')}. ` +
      'Give the tests more room (a container: --shm-size=1g, or TMPDIR on a larger file system).',
  );
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

function deviceLinkTarget(parent: NetdevParent): string | undefined {
  if (parent === 'virtual') return undefined;
  if ('device' in parent) return `../../../${parent.device}`;
  if ('aux' in parent) return `../../../${parent.aux}`;
  if ('child' in parent) return `../../../${parent.child}`;
  return `../../../${parent.pci}`;
}

/** A stable locally administered MAC derived from a name. */
export function randomMac(seed: string): string {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const bytes = [0x02, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff, seed.length & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
