/**
 * devlink's two output forms in tests: the text form the fixtures hold
 * (`devlink port show`, `devlink monitor port`) read into the JSON form that
 * `devlink -j port show` prints, and the phys_port_name the kernel derives
 * from a port's attributes.
 */

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
