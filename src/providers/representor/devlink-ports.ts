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

import { describeError } from '../../registry/errors';
import type { PortNumbers } from '../../registry/provider';
import { DroppedTally, type Dropped } from './dropped';
import { parseMac } from './mac';
import { isIfName } from './names';

export interface DevlinkPort extends PortNumbers {
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
  /** The physical port number (flavour physical). */
  readonly port?: number;
  /** The function's MAC (function.hw_addr), normalised; may be 00:00:00:00:00:00. */
  readonly hwAddr?: string;
}

export interface ParsedPorts {
  readonly ports: DevlinkPort[];
  /** Ports or attributes that were dropped, per cause, for the log. */
  readonly warnings: Dropped[];
}

export class DevlinkJsonError extends Error {
  override readonly name = 'DevlinkJsonError';
}

const U16 = 0xffff;
const U32 = 0xffffffff;
/** One port's attributes take ~200 bytes on real hosts; anything near this is not devlink. */
export const MAX_PORT_JSON_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 1024;

/** Parses the whole output of `devlink -j port show` at once; throws DevlinkJsonError when it is not that. */
export function parseDevlinkPortsJson(text: string): ParsedPorts {
  const parser = new DevlinkPortsParser();
  parser.write(text);
  return parser.end();
}

type State =
  | 'start'
  | 'top-key-or-end'
  | 'top-key'
  | 'top-colon'
  | 'top-value'
  | 'top-comma'
  | 'port-key-or-end'
  | 'port-key'
  | 'port-colon'
  | 'port-value'
  | 'port-comma'
  | 'done';

/**
 * `devlink -j port show` read as it arrives: `{"port": {"<handle>": {...}, ...}}`.
 * Only one port's attributes are held as text at a time (each parsed on its
 * own with JSON.parse), so a refresh holds the ports it keeps, never the
 * whole output nor a JSON tree of it. Top-level members other than "port"
 * are skipped unread. Throws DevlinkJsonError at the first byte that cannot
 * belong to such a document.
 */
export class DevlinkPortsParser {
  private state: State = 'start';
  /** A key or a port's value being read; undefined when a skipped value is being stepped over. */
  private token: string | undefined = '';
  /** Inside a token or skipped value: what continues it. */
  private scanning: 'string' | 'nested' | 'primitive' | undefined;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private topKey = '';
  private handle = '';
  private offset = 0;
  private readonly ports = new Map<string, DevlinkPort>();
  private readonly tally = new DroppedTally();
  /** One string per devlink device, shared by its ports (a host has a few devices and thousands of ports). */
  private readonly devices = new Map<string, string>();

  /** How many ports have been read so far. */
  get portCount(): number {
    return this.ports.size;
  }

  write(text: string): void {
    let i = 0;
    while (i < text.length) {
      if (this.scanning !== undefined) {
        i = this.scan(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      this.structural(String.fromCharCode(c));
      i++;
    }
    this.offset += text.length;
  }

  /** The ports read; throws DevlinkJsonError if the document is incomplete. */
  end(): ParsedPorts {
    if (this.scanning === 'primitive') this.finishValue();
    if (this.state !== 'done') this.fail(this.state === 'start' ? 'is empty' : 'ends before the document does (cut short?)');
    return { ports: [...this.ports.values()], warnings: this.tally.list() };
  }

  /** A character outside any token, at the current state. */
  private structural(ch: string): void {
    switch (this.state) {
      case 'start':
        if (ch !== '{') this.fail(`starts with ${JSON.stringify(ch)}, not "{"`);
        this.state = 'top-key-or-end';
        return;
      case 'top-key-or-end':
      case 'top-key':
      case 'port-key-or-end':
      case 'port-key':
        if (ch === '}' && this.state.endsWith('or-end')) {
          this.state = this.state === 'top-key-or-end' ? 'done' : 'top-comma';
          return;
        }
        if (ch !== '"') this.fail(`has ${JSON.stringify(ch)} where a key should start`);
        this.begin('string', ch, true);
        return;
      case 'top-colon':
      case 'port-colon':
        if (ch !== ':') this.fail(`has ${JSON.stringify(ch)} where ":" should be`);
        this.state = this.state === 'top-colon' ? 'top-value' : 'port-value';
        return;
      case 'top-value':
        if (this.topKey === 'port') {
          if (ch !== '{') this.fail('has a "port" member that is not an object');
          this.state = 'port-key-or-end';
          return;
        }
        this.beginValue(ch, false);
        return;
      case 'port-value':
        this.beginValue(ch, true);
        return;
      case 'top-comma':
      case 'port-comma':
        if (ch === ',') this.state = this.state === 'top-comma' ? 'top-key' : 'port-key';
        else if (ch === '}') this.state = this.state === 'top-comma' ? 'done' : 'top-comma';
        else this.fail(`has ${JSON.stringify(ch)} where "," or "}" should be`);
        return;
      case 'done':
        this.fail(`goes on after the document: ${JSON.stringify(ch)}`);
    }
  }

  private beginValue(ch: string, keep: boolean): void {
    if (ch === '{' || ch === '[') this.begin('nested', ch, keep);
    else if (ch === '"') this.begin('string', ch, keep);
    else if (/[-0-9a-z]/.test(ch)) this.begin('primitive', ch, keep);
    else this.fail(`has ${JSON.stringify(ch)} where a value should start`);
  }

  private begin(kind: 'string' | 'nested' | 'primitive', first: string, keep: boolean): void {
    this.scanning = kind;
    this.token = keep ? first : undefined;
    this.depth = kind === 'nested' ? 1 : 0;
    this.inString = kind === 'string';
    this.escaped = false;
  }

  /** Continues the current token from text[i]; returns where it stopped. */
  private scan(text: string, i: number): number {
    const start = i;
    let done = false;
    if (this.scanning === 'primitive') {
      while (i < text.length && /[-+.0-9a-zA-Z]/.test(text[i]!)) i++;
      done = i < text.length;
    } else {
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true;
          else if (c === 0x22) {
            this.inString = false;
            if (this.depth === 0) {
              i++;
              done = true;
              break;
            }
          }
        } else if (c === 0x22) this.inString = true;
        else if (c === 0x7b || c === 0x5b) this.depth++;
        else if (c === 0x7d || c === 0x5d) {
          if (--this.depth === 0) {
            i++;
            done = true;
            break;
          }
        }
      }
    }
    if (this.token !== undefined) {
      this.token += text.slice(start, i);
      const limit = this.state === 'port-value' ? MAX_PORT_JSON_BYTES : MAX_KEY_BYTES;
      if (this.token.length > limit) {
        const what = this.state === 'port-value' ? `the attributes of port ${JSON.stringify(this.handle.slice(0, 80))}` : 'a key';
        this.fail(`has ${what} longer than ${limit} bytes`);
      }
    }
    if (done) this.finishValue();
    return i;
  }

  private finishValue(): void {
    const text = this.token;
    this.scanning = undefined;
    this.token = '';
    switch (this.state) {
      case 'top-key-or-end':
      case 'top-key':
        this.topKey = this.parse(text!) as string;
        this.state = 'top-colon';
        return;
      case 'port-key-or-end':
      case 'port-key':
        this.handle = this.parse(text!) as string;
        this.state = 'port-colon';
        return;
      case 'top-value':
        this.state = 'top-comma';
        return;
      case 'port-value': {
        const port = parsePort(this.handle, this.parse(text!), this.tally, this.devices);
        if (port !== undefined) this.ports.set(port.handle, port);
        this.state = 'port-comma';
        return;
      }
      default:
        this.fail('is not devlink\'s JSON');
    }
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (err) {
      this.fail(`is not JSON near byte ${this.offset} (${describeError(err)})`);
    }
  }

  private fail(what: string): never {
    throw new DevlinkJsonError(`the output ${what}`);
  }
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

function parsePort(handle: string, attrs: unknown, tally: DroppedTally, devices: Map<string, string>): DevlinkPort | undefined {
  const parts = handle.length <= 256 ? parseHandle(handle) : undefined;
  if (parts === undefined) {
    tally.note('devlink port handle malformed', `ignored devlink port ${JSON.stringify(handle.slice(0, 80))}: its handle is not "<bus>/<device>/<index>"`);
    return undefined;
  }
  if (!isObject(attrs)) {
    tally.note('devlink port attributes not an object', `ignored devlink port ${JSON.stringify(handle.slice(0, 80))}: its attributes are not a JSON object`);
    return undefined;
  }
  const name = `${parts.bus}/${parts.deviceName}`;
  let device = devices.get(name);
  if (device === undefined) {
    device = name;
    devices.set(name, name);
  }
  const drop = (attribute: string, value: unknown, expected: string): void =>
    tally.note(
      `devlink ${attribute} malformed`,
      `devlink port ${handle}: ${attribute} ${JSON.stringify(value)?.slice(0, 80)} is not ${expected}; the attribute is ignored`,
    );
  let netdev = attrs['netdev'];
  // The name is later used in sysfs paths; a kernel never reports an invalid one.
  if (netdev !== undefined && !(typeof netdev === 'string' && isIfName(netdev))) {
    drop('netdev', netdev, 'a valid interface name');
    netdev = undefined;
  }
  let external = attrs['external'];
  if (external !== undefined && typeof external !== 'boolean') {
    drop('external', external, 'true or false');
    external = undefined;
  }
  let hwAddr: string | undefined;
  const fn = attrs['function'];
  if (isObject(fn) && fn['hw_addr'] !== undefined) {
    hwAddr = typeof fn['hw_addr'] === 'string' ? parseMac(fn['hw_addr']) : undefined;
    // A 20-byte InfiniBand address is a real address, just not a PF MAC.
    if (hwAddr === undefined && !isInfinibandAddress(fn['hw_addr'])) drop('function hw_addr', fn['hw_addr'], 'a MAC address');
  }
  // One literal with every field (absent ones undefined): 16k ports per refresh, each built once.
  return {
    handle,
    device,
    index: parts.index,
    type: word(attrs['type'], 'type', drop),
    netdev: netdev as string | undefined,
    flavour: word(attrs['flavour'], 'flavour', drop),
    controller: integer(attrs['controller'], 'controller', U32, drop),
    pfnum: integer(attrs['pfnum'], 'pfnum', U16, drop),
    vfnum: integer(attrs['vfnum'], 'vfnum', U16, drop),
    sfnum: integer(attrs['sfnum'], 'sfnum', U32, drop),
    external: external as boolean | undefined,
    port: integer(attrs['port'], 'port', U32, drop),
    hwAddr,
  };
}

/** An integer attribute in 0..max; anything else is dropped. */
function integer(value: unknown, attribute: string, max: number, drop: (attribute: string, value: unknown, expected: string) => void): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  drop(attribute, value, `an integer in 0..${max}`);
  return undefined;
}

/** A short keyword-like string (type, flavour); anything else is dropped. */
function word(value: unknown, attribute: string, drop: (attribute: string, value: unknown, expected: string) => void): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(value)) return value;
  drop(attribute, value, 'a word of at most 32 letters, digits, "-" or "_"');
  return undefined;
}

function isInfinibandAddress(value: unknown): boolean {
  return typeof value === 'string' && /^[0-9a-f]{2}(?::[0-9a-f]{2}){19}$/i.test(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
