/**
 * `vifplug-ovn status`'s repair section, for people: what repair mode
 * (--repair) removed lately, newest first, and the ports it holds back.
 * Printed only when repair mode is on.
 */

import type { RepairStatus } from '../ovn/repair-log';
import { table } from './table';

/** How many of the latest repairs the text shows (--json has them all). */
const SHOWN = 10;

export function repairSection(repair: RepairStatus): string[] {
  if (repair.types.length === 0) return [];
  const counts = Object.entries(repair.counts)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const lines = [`repairs of ovn-controller's ports (${repair.types.join(',')}) since start: ${counts}`];
  if (repair.recent.length > 0) {
    const rows = repair.recent.slice(0, SHOWN).map((r) => [`${Math.round(r.agoMs / 1000)}s`, r.lport, r.type, r.iface, r.reason, r.message]);
    lines.push(table(['AGO', 'LPORT', 'TYPE', 'IFACE', 'REASON', 'MESSAGE'], rows));
  }
  for (const h of repair.held) lines.push(`held: lport ${h.lport}, interface ${h.iface}: ${h.reason}: ${h.message}`);
  return lines;
}
