/**
 * The sysfs seam: small readers over a directory laid out like /sys
 * (--sysfs-root), in the manner of sriovnet. Only the root is configurable;
 * every path below it is built from fixed attribute names and netdev names
 * that passed isIfName, never from request options.
 *
 * Reads are asynchronous (a slow sysfs must not stall the event loop) and
 * size-bounded (an attribute is at most a page; a tree that is not sysfs
 * cannot make us read a large file into memory).
 */

import { constants } from 'node:fs';
import { open, readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { DroppedTally, type Dropped } from './dropped';
import { parseMac } from './mac';
import { isIfName, isPciAddress } from './names';

/**
 * Raw filesystem access, throwing Node's errno errors. Tests replace it to
 * model what a plain file cannot, such as a read failing with EOPNOTSUPP.
 */
export interface SysfsFs {
  /** Up to `maxBytes` bytes from the start of the file. */
  read(path: string, maxBytes: number): Promise<Buffer>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
}

export function nodeSysfs(): SysfsFs {
  return {
    async read(path, maxBytes) {
      // O_NONBLOCK: a FIFO planted in a fake tree must not hang the reader.
      const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const buffer = Buffer.alloc(maxBytes);
        const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
    readlink: (path) => readlink(path),
    readdir: (path) => readdir(path),
  };
}

/** The kernel shows a sysfs attribute in at most one page. */
export const MAX_ATTRIBUTE_BYTES = 4096;

/**
 * Errors that mean "this attribute has no value here": missing files (hidden
 * attributes since 2025, old kernels), EOPNOTSUPP / EINVAL from a netdev
 * without the ndo or devlink port, ENODEV from a netdev going away.
 */
const NO_VALUE_CODES = new Set(['ENOENT', 'ENOTDIR', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'ENODEV', 'ENXIO', 'EAGAIN']);

export function isNoValueError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && NO_VALUE_CODES.has(String((err as { code?: unknown }).code));
}

/** The attribute files of class/net/<if> that the provider reads. */
export type NetdevAttribute = 'address' | 'ifindex' | 'phys_port_name' | 'phys_switch_id';

export class SysfsRootError extends Error {
  override readonly name = 'SysfsRootError';
}

export class SysfsReader {
  private dropped = new DroppedTally();

  constructor(
    readonly root: string,
    private readonly fs: SysfsFs = nodeSysfs(),
  ) {}

  /** The entries of class/net; throws SysfsRootError when the root does not look like /sys. */
  async netdevNames(): Promise<string[]> {
    const dir = join(this.root, 'class', 'net');
    let names: string[];
    try {
      names = await this.fs.readdir(dir);
    } catch (err) {
      throw rootError(this.root, dir, err);
    }
    return names.filter(isIfName);
  }

  /** An attribute's value without its trailing newline; undefined when it has none. */
  async attribute(ifname: string, attribute: NetdevAttribute): Promise<string | undefined> {
    const text = await this.readText(this.netdevPath(ifname, attribute));
    return text === undefined || text === '' ? undefined : text;
  }

  async address(ifname: string): Promise<string | undefined> {
    const text = await this.attribute(ifname, 'address');
    return text === undefined ? undefined : parseMac(text);
  }

  async ifindex(ifname: string): Promise<number | undefined> {
    const text = await this.attribute(ifname, 'ifindex');
    return text !== undefined && /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : undefined;
  }

  /** The name of the device the netdev hangs off (basename of its `device` link): a PCI address, an auxiliary device, virtio2, ... */
  async deviceName(ifname: string): Promise<string | undefined> {
    const target = await this.link(this.netdevPath(ifname, 'device'));
    return target === undefined ? undefined : basename(target);
  }

  /** Whether the netdev's device is an SR-IOV VF (has a `physfn` link). */
  async isOnVirtualFunction(ifname: string): Promise<boolean> {
    return (await this.link(this.netdevPath(ifname, 'device', 'physfn'))) !== undefined;
  }

  /**
   * The VF indexes of the netdev's PCI device, from its virtfnN links (the
   * kernel's own numbering of a PF's VFs); [] for a device without VFs.
   * undefined when the netdev has no device directory to list.
   */
  async vfIndexes(ifname: string): Promise<number[] | undefined> {
    let entries: string[];
    try {
      entries = await this.fs.readdir(this.netdevPath(ifname, 'device'));
    } catch (err) {
      if (isNoValueError(err)) return undefined;
      throw err;
    }
    const indexes: number[] = [];
    for (const entry of entries) {
      const m = /^virtfn(0|[1-9][0-9]{0,4})$/.exec(entry);
      if (m) indexes.push(Number(m[1]));
    }
    return indexes.sort((a, b) => a - b);
  }

  /**
   * The permanent MAC of a bond slave (bonding_slave/perm_hwaddr): a bond
   * gives its slaves its own MAC, so the current address of two PFs can be
   * the same while these differ.
   */
  async permanentAddress(ifname: string): Promise<string | undefined> {
    const text = await this.readText(this.netdevPath(ifname, 'bonding_slave', 'perm_hwaddr'));
    return text === undefined ? undefined : parseMac(text);
  }

  /**
   * The host PF MAC from the legacy BlueField compat file
   * class/net/<uplink>/smart_nic/pf/config ("MAC        : e4:8b:01:a5:79:5e").
   */
  async smartNicPfMac(ifname: string): Promise<string | undefined> {
    const text = await this.readText(this.netdevPath(ifname, 'smart_nic', 'pf', 'config'));
    return text === undefined ? undefined : parseSmartNicConfig(text);
  }

  /**
   * The driver bound to a PCI device (basename of bus/pci/devices/<bdf>/driver,
   * e.g. mlx5_core); undefined when none is bound or the device is unknown.
   */
  async pciDriver(bdf: string): Promise<string | undefined> {
    const target = await this.link(this.pciPath(bdf, 'driver'));
    return target === undefined ? undefined : basename(target);
  }

  /** Whether bus/pci/devices/<bdf> exists. */
  async pciDeviceExists(bdf: string): Promise<boolean> {
    return (await this.link(this.pciPath(bdf))) !== undefined;
  }

  /** The PF of a VF (basename of its physfn link); undefined for a device that is no VF. */
  async physfn(bdf: string): Promise<string | undefined> {
    const target = await this.link(this.pciPath(bdf, 'physfn'));
    return target === undefined ? undefined : basename(target);
  }

  /** N of the PF's virtfnN link that points at `vf`; undefined when none does. */
  async vfIndexOf(pf: string, vf: string): Promise<number | undefined> {
    let entries: string[];
    try {
      entries = await this.fs.readdir(this.pciPath(pf));
    } catch (err) {
      if (isNoValueError(err)) return undefined;
      throw err;
    }
    for (const entry of entries) {
      const m = /^virtfn(0|[1-9][0-9]{0,4})$/.exec(entry);
      if (m && basename((await this.link(this.pciPath(pf, entry))) ?? '') === vf) return Number(m[1]);
    }
    return undefined;
  }

  /** The netdevs of a PCI device (bus/pci/devices/<bdf>/net); [] when it has none. */
  async pciNetdevs(bdf: string): Promise<string[]> {
    try {
      return (await this.fs.readdir(this.pciPath(bdf, 'net'))).filter(isIfName).sort();
    } catch (err) {
      if (isNoValueError(err)) return [];
      throw err;
    }
  }

  /**
   * The raw bytes of a PCI device's VPD (bus/pci/devices/<bdf>/vpd), at most
   * maxBytes + 1 so that an oversized file shows; undefined when it has no
   * vpd file. Read errors (EIO from a device that does not answer) are thrown.
   */
  async pciVpd(bdf: string, maxBytes: number): Promise<Buffer | undefined> {
    try {
      return await this.fs.read(this.pciPath(bdf, 'vpd'), maxBytes + 1);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  /** Attributes ignored since the last call, per cause. */
  takeDropped(): Dropped[] {
    const notes = this.dropped.list();
    this.dropped = new DroppedTally();
    return notes;
  }

  private pciPath(bdf: string, ...rest: string[]): string {
    if (!isPciAddress(bdf)) throw new Error(`refusing to build a sysfs path from ${JSON.stringify(bdf)}`);
    return join(this.root, 'bus', 'pci', 'devices', bdf, ...rest);
  }

  private netdevPath(ifname: string, ...rest: string[]): string {
    if (!isIfName(ifname)) throw new Error(`refusing to build a sysfs path from ${JSON.stringify(ifname)}`);
    return join(this.root, 'class', 'net', ifname, ...rest);
  }

  private async readText(path: string): Promise<string | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.read(path, MAX_ATTRIBUTE_BYTES);
    } catch (err) {
      if (isNoValueError(err)) return undefined;
      throw err;
    }
    // A full page is more than any attribute we read holds: not sysfs, ignore it.
    if (bytes.length >= MAX_ATTRIBUTE_BYTES) {
      this.dropped.note('sysfs attribute too large', `sysfs: ignored ${path}: it holds ${MAX_ATTRIBUTE_BYTES} bytes or more, more than any attribute read here`);
      return undefined;
    }
    return bytes.toString('utf8').trim();
  }

  private async link(path: string): Promise<string | undefined> {
    try {
      return await this.fs.readlink(path);
    } catch (err) {
      if (isNoValueError(err)) return undefined;
      throw err;
    }
  }
}

/**
 * Why class/net cannot be listed, in the OS's words: only a path that is
 * missing or not a directory means "this is not a /sys"; permission denied,
 * I/O errors and the like are said as such.
 */
function rootError(root: string, dir: string, err: unknown): SysfsRootError {
  const code = (err as { code?: unknown } | null)?.code;
  const osText = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SysfsRootError(
      `cannot list ${dir} (${osText}): the sysfs root "${root}" is not laid out like /sys; pass --sysfs-root with the directory where the host's /sys is mounted`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new SysfsRootError(
      `cannot list ${dir} (${osText}): vifplugd (uid ${process.getuid?.() ?? '?'}) may not read it; grant read access to the sysfs mount or run with an identity that has it`,
    );
  }
  return new SysfsRootError(`cannot list ${dir} (${osText}); check the sysfs mount given by --sysfs-root`);
}

/** The MAC line of the smart_nic compat file; undefined when there is none. */
export function parseSmartNicConfig(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*MAC\s*:\s*(\S+)\s*$/.exec(line);
    if (m) return parseMac(m[1]!);
  }
  return undefined;
}
