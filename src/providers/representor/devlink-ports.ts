/**
 * devlink ports as `devlink -j port show` prints them (iproute2
 * devlink/devlink.c: pr_out_port and friends):
 *
 *   {"port": {"pci/0000:08:00.0/2": {"type": "eth", "netdev": "enp8s0f0npf0vf0",
 *     "flavour": "pcivf", "controller": 0, "pfnum": 0, "vfnum": 0, "external": false,
 *     "splittable": false, "function": {"hw_addr": "1a:33:f2:e7:64:d8"}}}}
 *
 * Every attribute except the handle is optional: which ones appear depends on
 * the kernel and the iproute2 version (no controller/external/splittable on
 * older ones). A value of the wrong type or out of range is dropped rather
 * than trusted, so one odd port cannot poison the whole dump.
 */

import { parseMac } from './mac';
import { isIfName } from './names';

export interface DevlinkPort {
  /** "<bus>/<device>/<index>", e.g. "pci/0000:08:00.0/2". */
  readonly handle: string;
  /** "<bus>/<device>", e.g. "pci/0000:08:00.0" or "auxiliary/mlx5_core.eth.0". */
  readonly device: string;
  readonly index: number;
  /** eth, ib, notset, ... */
  readonly type?: string;
  readonly netdev?: string;
  /** physical, pcipf, pcivf, pcisf, virtual; other flavours are kept as printed. */
  readonly flavour?: string;
  readonly controller?: number;
  readonly pfnum?: number;
  readonly vfnum?: number;
  readonly sfnum?: number;
  readonly external?: boolean;
  /** The physical port number (flavour physical). */
  readonly port?: number;
  /** The function's MAC (function.hw_addr), normalised; may be 00:00:00:00:00:00. */
  readonly hwAddr?: string;
}

export interface ParsedPorts {
  readonly ports: DevlinkPort[];
  /** Ports or attributes that were dropped, for the log. */
  readonly warnings: string[];
}

export class DevlinkJsonError extends Error {
  override readonly name = 'DevlinkJsonError';
}

const U16 = 0xffff;
const U32 = 0xffffffff;
const MAX_WARNINGS = 20;

/** Parses the output of `devlink -j port show`; throws DevlinkJsonError when it is not that. */
export function parseDevlinkPortsJson(text: string): ParsedPorts {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DevlinkJsonError(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(doc)) throw new DevlinkJsonError('not a JSON object');
  // iproute2 prints {"port":{}} (or nothing under "port") when there are no ports.
  const table = doc['port'] ?? {};
  if (!isObject(table)) throw new DevlinkJsonError('"port" is not an object');
  const ports: DevlinkPort[] = [];
  const warnings: string[] = [];
  const warn = (message: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(message);
  };
  for (const [handle, attrs] of Object.entries(table)) {
    const port = parsePort(handle, attrs, warn);
    if (port !== undefined) ports.push(port);
  }
  return { ports, warnings };
}

/** Splits "<bus>/<device>/<index>" on the first and last "/" (device names may not contain one, but the index never does). */
export function parseHandle(handle: string): { bus: string; deviceName: string; index: number } | undefined {
  const last = handle.lastIndexOf('/');
  const first = handle.indexOf('/');
  if (first <= 0 || last <= first + 1 || last === handle.length - 1) return undefined;
  const indexText = handle.slice(last + 1);
  if (!/^(?:0|[1-9][0-9]{0,9})$/.test(indexText)) return undefined;
  const index = Number(indexText);
  if (index > U32) return undefined;
  return { bus: handle.slice(0, first), deviceName: handle.slice(first + 1, last), index };
}

function parsePort(handle: string, attrs: unknown, warn: (message: string) => void): DevlinkPort | undefined {
  const parts = handle.length <= 256 ? parseHandle(handle) : undefined;
  if (parts === undefined || !isObject(attrs)) {
    warn(`ignored devlink port with unexpected handle or attributes: ${JSON.stringify(handle.slice(0, 80))}`);
    return undefined;
  }
  const port: { -readonly [K in keyof DevlinkPort]: DevlinkPort[K] } = {
    handle,
    device: `${parts.bus}/${parts.deviceName}`,
    index: parts.index,
  };
  const type = word(attrs['type']);
  if (type !== undefined) port.type = type;
  const netdev = attrs['netdev'];
  if (typeof netdev === 'string') {
    // The name is later used in sysfs paths; a kernel never reports an invalid one.
    if (isIfName(netdev)) port.netdev = netdev;
    else warn(`ignored invalid netdev name of devlink port ${handle}`);
  }
  const flavour = word(attrs['flavour']);
  if (flavour !== undefined) port.flavour = flavour;
  setNumber(port, 'controller', attrs['controller'], U32);
  setNumber(port, 'pfnum', attrs['pfnum'], U16);
  setNumber(port, 'vfnum', attrs['vfnum'], U16);
  setNumber(port, 'sfnum', attrs['sfnum'], U32);
  setNumber(port, 'port', attrs['port'], U32);
  if (typeof attrs['external'] === 'boolean') port.external = attrs['external'];
  const fn = attrs['function'];
  if (isObject(fn)) {
    if (typeof fn['hw_addr'] === 'string') {
      const mac = parseMac(fn['hw_addr']);
      if (mac !== undefined) port.hwAddr = mac;
      // A 20-byte InfiniBand address or garbage is not a PF MAC; drop it quietly.
    }
  }
  return port;
}

function setNumber(
  port: { -readonly [K in keyof DevlinkPort]: DevlinkPort[K] },
  key: 'controller' | 'pfnum' | 'vfnum' | 'sfnum' | 'port',
  value: unknown,
  max: number,
): void {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) port[key] = value;
}

/** A short keyword-like string (type, flavour, state); anything else is dropped. */
function word(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(value) ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
