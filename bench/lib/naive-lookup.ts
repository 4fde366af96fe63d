/**
 * The lookup done the naive way, as sriovnet does it (GetVfRepresentor): no
 * index, the sysfs tree is scanned on every lookup. First the uplink whose
 * address is the pf-mac (sriovnet is handed the uplink name; finding it from a
 * MAC takes the same kind of scan), then every netdev with the uplink's
 * phys_switch_id whose phys_port_name is pf<N>vf<M>. Reads are synchronous,
 * the fastest way Node has to read small files: the naive way at its best.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function attribute(net: string, name: string, attr: string): string | undefined {
  try {
    return readFileSync(join(net, name, attr), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function naiveLookup(sysfsRoot: string, pfMac: string, vf: number): string | undefined {
  const net = join(sysfsRoot, 'class', 'net');
  let uplink: string | undefined;
  let pf = -1;
  for (const name of readdirSync(net)) {
    if (attribute(net, name, 'address') !== pfMac) continue;
    const m = /^p(\d+)$/.exec(attribute(net, name, 'phys_port_name') ?? '');
    if (m) {
      uplink = name;
      pf = Number(m[1]);
      break;
    }
  }
  if (uplink === undefined) return undefined;
  const switchId = attribute(net, uplink, 'phys_switch_id');
  const wanted = `pf${pf}vf${vf}`;
  for (const name of readdirSync(net)) {
    if (attribute(net, name, 'phys_switch_id') !== switchId) continue;
    if (attribute(net, name, 'phys_port_name') === wanted) return name;
  }
  return undefined;
}
