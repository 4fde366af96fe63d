/**
 * A fake host for the representor provider: a /sys-like tree under a temp dir,
 * built with real directories and symlinks where the kernel has them, and
 * stand-in `devlink` and `ip` executables that behave like iproute2 as far as
 * the provider can tell (same arguments, same output formats, same failure
 * texts). Tests change the "hardware" between calls by rewriting the tree and
 * the stand-ins' state files; the provider under test only sees --sysfs-root,
 * --devlink-bin and --ip-bin.
 *
 * Layout (as on a real kernel):
 *   sys/devices/pci0000:00/<bdf>/                    a PCI function
 *   sys/devices/pci0000:00/<bdf>/{virtfnN -> ../<vf>, physfn -> ../<pf>, sriov_numvfs}
 *   sys/devices/pci0000:00/<bdf>/net/<if>/{address, ifindex, phys_port_name, phys_switch_id}
 *   sys/devices/pci0000:00/<bdf>/net/<if>/device -> ../../../<bdf>
 *   sys/devices/pci0000:00/<bdf>/<aux>/net/<if>/device -> ../../../<aux>   (SF netdevs)
 *   sys/devices/virtual/net/<if>/                     no device link
 *   sys/class/net/<if> -> ../../devices/.../net/<if>
 *   sys/bus/pci/devices/<bdf> -> ../../../devices/pci0000:00/<bdf>
 *   sys/class/net/<uplink>/smart_nic/pf/config       BlueField compat file
 */

import {
  accessSync,
  appendFileSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

import { nodeSysfs, type SysfsFs } from '../../src/providers/representor/sysfs';

/** Where the copied fixtures live (shared/fixtures/representors, verbatim). */
export const FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'representors');

/** A fixture's text. */
export function readFixture(name: string): string {
  return readFileSync(join(FIXTURE_DIR, name), 'utf8');
}

// ---------------------------------------------------------------------------
// devlink text form -> the JSON that `devlink -j port show` prints
// ---------------------------------------------------------------------------

/** One port's attributes as `devlink -j` prints them. */
export interface DevlinkJsonPort {
  type?: string;
  netdev?: string;
  flavour?: string;
  controller?: number;
  pfnum?: number;
  vfnum?: number;
  sfnum?: number;
  external?: boolean;
  splittable?: boolean;
  port?: number;
  lanes?: number;
  function?: { hw_addr?: string; state?: string; opstate?: string; roce?: string };
}

export interface DevlinkJson {
  port: Record<string, DevlinkJsonPort>;
}

export interface DevlinkTextRecord {
  /** "new" / "del" for `devlink monitor` lines, undefined for `port show`. */
  readonly event?: 'new' | 'del';
  readonly handle: string;
  readonly attrs: DevlinkJsonPort;
}

const HEADER_RE = /^\s*(?:\[port,(new|del)\]\s+)?([A-Za-z0-9_-]+\/[^\s/]+\/[0-9]+):\s*(.*)$/;
const NUMBER_KEYS = new Set(['controller', 'pfnum', 'vfnum', 'sfnum', 'port', 'lanes']);
const BOOLEAN_KEYS = new Set(['external', 'splittable']);

/**
 * Parses the text form of `devlink port show` / `devlink monitor port`:
 * "<bus>/<dev>/<index>: key value ..." header lines, optionally prefixed with
 * "[port,new]", followed by "function:" and "hw_addr ..." continuation lines.
 * Indentation is not required (fixture 07 lost it); anything else (shell
 * prompts, commands, comments, prose) is skipped.
 */
export function parseDevlinkText(text: string): DevlinkTextRecord[] {
  const records: { event?: 'new' | 'del'; handle: string; attrs: DevlinkJsonPort }[] = [];
  let current: (typeof records)[number] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      current = undefined;
      continue;
    }
    const header = HEADER_RE.exec(line);
    if (header) {
      current = { handle: header[2]!, attrs: parseAttributes(header[3]!) };
      if (header[1] !== undefined) current.event = header[1] as 'new' | 'del';
      records.push(current);
      continue;
    }
    const body = line.trim();
    if (current === undefined) continue;
    if (body === 'function:') {
      current.attrs.function ??= {};
      continue;
    }
    if (current.attrs.function !== undefined && /^(hw_addr|state|opstate|roce)\b/.test(body)) {
      const words = body.split(/\s+/);
      for (let i = 0; i + 1 < words.length; i += 2) (current.attrs.function as Record<string, string>)[words[i]!] = words[i + 1]!;
      continue;
    }
    current = undefined;
  }
  return records;
}

function parseAttributes(text: string): DevlinkJsonPort {
  const attrs: Record<string, unknown> = {};
  const words = text.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i + 1 < words.length; i += 2) {
    const key = words[i]!;
    const value = words[i + 1]!;
    if (NUMBER_KEYS.has(key)) attrs[key] = Number(value);
    else if (BOOLEAN_KEYS.has(key)) attrs[key] = value === 'true';
    else attrs[key] = value;
  }
  return attrs as DevlinkJsonPort;
}

/** The JSON `devlink -j port show` prints for the ports of a text listing (later lines for a handle win). */
export function devlinkJsonFromText(text: string): DevlinkJson {
  const port: Record<string, DevlinkJsonPort> = {};
  for (const record of parseDevlinkText(text)) {
    if (record.event === 'del') delete port[record.handle];
    else port[record.handle] = record.attrs;
  }
  return { port };
}

/** The text `devlink port show` prints (what iproute2 prints without -j). */
export function devlinkTextFromJson(json: DevlinkJson): string {
  return Object.entries(json.port)
    .map(([handle, attrs]) => {
      const { function: fn, ...rest } = attrs;
      const head = `${handle}: ${Object.entries(rest)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(' ')}`;
      if (fn === undefined) return head;
      return `${head}\n  function:\n    ${Object.entries(fn)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(' ')}`;
    })
    .join('\n');
}

/**
 * The phys_port_name the kernel shows for a devlink port (the 2026 upstream
 * rule: controller prefix for external ports and non-zero controllers).
 * Written independently of the product's formatter on purpose.
 */
export function kernelPhysPortName(attrs: DevlinkJsonPort): string | undefined {
  const c = attrs.external === true || (attrs.controller ?? 0) !== 0 ? `c${attrs.controller ?? 0}` : '';
  if (attrs.flavour === 'physical' && attrs.port !== undefined) return `p${attrs.port}`;
  if (attrs.flavour === 'pcipf' && attrs.pfnum !== undefined) return `${c}pf${attrs.pfnum}`;
  if (attrs.flavour === 'pcivf' && attrs.pfnum !== undefined && attrs.vfnum !== undefined) return `${c}pf${attrs.pfnum}vf${attrs.vfnum}`;
  if (attrs.flavour === 'pcisf' && attrs.pfnum !== undefined && attrs.sfnum !== undefined) return `${c}pf${attrs.pfnum}sf${attrs.sfnum}`;
  return undefined;
}

// ---------------------------------------------------------------------------
// The fake host
// ---------------------------------------------------------------------------

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
}

export type DevlinkBehaviour =
  | 'ok'
  /** "Failed to connect to devlink Netlink", exit 1 (kernel without devlink, fixture 20). */
  | 'no-netlink'
  /** Never answers (the provider must time out). */
  | 'hang'
  /** Prints something that is not JSON. */
  | 'garbage'
  /** Prints a lot: more than the provider's output bound. */
  | 'huge'
  /** Exits 1 with an error. */
  | 'fail';

export const EOPNOTSUPP = 'EOPNOTSUPP';

export class FakeHost {
  readonly dir: string;
  readonly sysfsRoot: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  private readonly state: string;
  private readonly unsupported = new Set<string>();
  private nextIfindex = 2;

  /** The temp dir holding the sysfs tree (memory-backed when the system offers one). */
  private readonly treeDir: string;

  constructor() {
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), 'vifplug-host-')));
    // The tree of a large host is ~150k inodes: on a disk under load creating and removing them
    // takes minutes, on tmpfs a second. The executables stay in tmpdir (/dev/shm may be noexec).
    this.treeDir = realpathSync(mkdtempSync(join(memoryTmpDir(), 'vifplug-sys-')));
    this.sysfsRoot = join(this.treeDir, 'sys');
    this.state = join(this.dir, 'state');
    for (const d of ['class/net', 'devices/pci0000:00', 'devices/virtual/net', 'bus/pci/devices', 'bus/auxiliary/devices']) {
      mkdirSync(join(this.sysfsRoot, d), { recursive: true });
    }
    mkdirSync(this.state);
    mkdirSync(join(this.dir, 'bin'));
    this.devlinkBin = join(this.dir, 'bin', 'devlink');
    this.ipBin = join(this.dir, 'bin', 'ip');
    writeStandIn(this.devlinkBin, 'devlink', this.state);
    writeStandIn(this.ipBin, 'ip', this.state);
    this.setDevlinkPorts({ port: {} });
    writeFileSync(join(this.state, 'devlink.events'), '');
    writeFileSync(join(this.state, 'ip.events'), '');
  }

  remove(): void {
    rmSync(this.treeDir, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  // --- PCI -----------------------------------------------------------------

  /** A PCI function; `physfn` makes it a VF of that PF (with the PF's virtfnN link). */
  addPciDevice(bdf: string, options: { physfn?: string; vfIndex?: number } = {}): void {
    const dir = this.pciDir(bdf);
    if (existsSync(dir)) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vendor'), '0x15b3\n');
    symlinkSync(`../../../devices/pci0000:00/${bdf}`, join(this.sysfsRoot, 'bus', 'pci', 'devices', bdf));
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

  // --- netdevs ---------------------------------------------------------------

  addNetdev(spec: NetdevSpec): void {
    const dir = this.netdevDir(spec.name, spec.parent);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'address'), `${spec.address ?? randomMac(spec.name)}\n`);
    writeFileSync(join(dir, 'ifindex'), `${spec.ifindex ?? this.nextIfindex++}\n`);
    writeFileSync(join(dir, 'type'), '1\n');
    if (spec.physPortName !== undefined) this.writeUnsupportable(join(dir, 'phys_port_name'), spec.physPortName);
    if (spec.physSwitchId !== undefined) writeFileSync(join(dir, 'phys_switch_id'), `${spec.physSwitchId}\n`);
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

  // --- devlink ---------------------------------------------------------------

  /** What the next `devlink -j port show` prints. */
  setDevlinkPorts(json: DevlinkJson): void {
    writeFileSync(join(this.state, 'ports.json'), JSON.stringify(json));
  }

  setDevlinkBehaviour(behaviour: DevlinkBehaviour): void {
    writeFileSync(join(this.state, 'devlink.behaviour'), behaviour);
  }

  /** Makes running `devlink monitor port` print `line` (e.g. "[port,new] pci/...: ..."). */
  emitDevlinkEvent(line: string): void {
    appendFileSync(join(this.state, 'devlink.events'), `${line}\n`);
  }

  /** Makes running `ip -o monitor link` print `line`. */
  emitLinkEvent(line: string): void {
    appendFileSync(join(this.state, 'ip.events'), `${line}\n`);
  }

  /** The argument lists of every run of a stand-in, oldest first. */
  invocations(tool: 'devlink' | 'ip'): string[][] {
    const file = join(this.state, `${tool}.calls`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);
  }

  /** How many times `devlink -j port show` ran. */
  portDumps(): number {
    return this.invocations('devlink').filter((args) => args.includes('port') && args.includes('show')).length;
  }

  /** Pids of the monitor processes a stand-in started, oldest first. */
  monitorPids(tool: 'devlink' | 'ip'): number[] {
    const file = join(this.state, `${tool}.monitor.pids`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  }

  // --- internals -------------------------------------------------------------

  private pciDir(bdf: string): string {
    return join(this.sysfsRoot, 'devices', 'pci0000:00', bdf);
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
        symlinkSync(`../../../devices/pci0000:00/${parent.pci}/${parent.aux}`, join(this.sysfsRoot, 'bus', 'auxiliary', 'devices', parent.aux));
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
function memoryTmpDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
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

/**
 * The stand-ins: small node scripts (absolute interpreter path in the #! line,
 * so PATH does not matter) that record their arguments and answer like
 * iproute2 from the state directory.
 */
function writeStandIn(path: string, tool: 'devlink' | 'ip', state: string): void {
  const script = `#!${process.execPath}
'use strict';
const fs = require('fs');
const path = require('path');
const TOOL = ${JSON.stringify(tool)};
const STATE = ${JSON.stringify(state)};
const argv = process.argv.slice(2);
fs.appendFileSync(path.join(STATE, TOOL + '.calls'), JSON.stringify(argv) + '\\n');
const read = (name) => { try { return fs.readFileSync(path.join(STATE, name), 'utf8'); } catch { return ''; } };
const flags = argv.filter((a) => a.startsWith('-'));
const words = argv.filter((a) => !a.startsWith('-'));
const json = flags.some((f) => f === '-j' || f === '--json' || f === '-jp' || f === '-pj');

function tail(file) {
  fs.appendFileSync(path.join(STATE, TOOL + '.monitor.pids'), process.pid + '\\n');
  let offset = fs.statSync(path.join(STATE, file)).size;
  setInterval(() => {
    const size = fs.statSync(path.join(STATE, file)).size;
    if (size <= offset) return;
    const fd = fs.openSync(path.join(STATE, file), 'r');
    const buffer = Buffer.alloc(size - offset);
    fs.readSync(fd, buffer, 0, buffer.length, offset);
    fs.closeSync(fd);
    offset = size;
    process.stdout.write(buffer);
  }, 20);
  process.on('SIGTERM', () => process.exit(0));
}

if (TOOL === 'ip') {
  if (words[0] === 'monitor' && (words[1] === 'link' || words[1] === undefined)) tail('ip.events');
  else { process.stderr.write('Command "' + (words[0] || '') + '" is unknown, try "ip help".\\n'); process.exit(1); }
} else {
  const behaviour = read('devlink.behaviour').trim() || 'ok';
  if (flags.includes('-V')) { process.stdout.write('devlink utility, iproute2-6.1.0\\n'); process.exit(0); }
  if (behaviour === 'no-netlink') { process.stderr.write('Failed to connect to devlink Netlink\\n'); process.exit(1); }
  const object = words[0] === 'mon' ? 'monitor' : words[0];
  if (object === 'monitor' && (words[1] === 'port' || words[1] === undefined)) {
    tail('devlink.events');
  } else if (object === 'port' && (words[1] === 'show' || words[1] === 'list' || words[1] === undefined)) {
    if (behaviour === 'hang') setInterval(() => undefined, 1000);
    else if (behaviour === 'garbage') process.stdout.write('this is not the JSON you are looking for\\n');
    else if (behaviour === 'fail') { process.stderr.write('devlink answers: Invalid argument\\n'); process.exit(1); }
    else if (behaviour === 'huge') {
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      process.stdout.write('{"port":{');
      for (let i = 0; i < 8; i++) process.stdout.write(chunk);
      process.stdout.write('}}\\n');
    } else {
      const ports = JSON.parse(read('ports.json') || '{"port":{}}');
      if (json) process.stdout.write(JSON.stringify(ports) + '\\n');
      else {
        for (const [handle, attrs] of Object.entries(ports.port)) {
          const { function: fn, ...rest } = attrs;
          process.stdout.write(handle + ': ' + Object.entries(rest).map(([k, v]) => k + ' ' + v).join(' ') + '\\n');
          if (fn) process.stdout.write('  function:\\n    ' + Object.entries(fn).map(([k, v]) => k + ' ' + v).join(' ') + '\\n');
        }
      }
    }
  } else {
    process.stderr.write('Object "' + (words[0] || '') + '" not found\\n');
    process.exit(1);
  }
}
`;
  writeFileSync(path, script);
  chmodSync(path, 0o755);
}

// ---------------------------------------------------------------------------
// Laying out a host from a devlink listing
// ---------------------------------------------------------------------------

export interface UplinkSpec {
  readonly address: string;
  /** The PCI function the uplink netdev sits on; defaults to the devlink device when it is a PCI one. */
  readonly pci?: string;
  readonly smartNicPfMac?: string;
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
      physPortName: kernelPhysPortName(attrs) ?? EOPNOTSUPP,
      ...(attrs.flavour === 'virtual' ? {} : { physSwitchId: switchId }),
    });
  }
  host.setDevlinkPorts(json);
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

/** For assertions on link targets. */
export function linkTarget(host: FakeHost, ...path: string[]): string {
  return readlinkSync(join(host.sysfsRoot, ...path));
}
