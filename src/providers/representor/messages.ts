/**
 * Short, bounded descriptions for answers and logs: a NOT_FOUND message says
 * what was searched and what exists, but a host with 16k ports must not turn
 * it into a megabyte.
 */

import type { PortEntry } from './port-entry';

const MAX_RANGES = 12;
const MAX_ITEMS = 6;

/** "0-3,7,9-12", cut after a dozen ranges; "none" for an empty set. */
export function summariseNumbers(numbers: Iterable<number>): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  if (sorted.length === 0) return 'none';
  const ranges: string[] = [];
  let start = sorted[0]!;
  let end = start;
  for (const n of sorted.slice(1).concat(Number.NaN)) {
    if (n === end + 1) {
      end = n;
      continue;
    }
    ranges.push(start === end ? `${start}` : `${start}-${end}`);
    start = end = n;
  }
  return ranges.length > MAX_RANGES ? `${ranges.slice(0, MAX_RANGES).join(',')},... (${sorted.length} in all)` : ranges.join(',');
}

/** The first few items joined, with a count of the rest. */
export function capList(items: readonly string[], max = MAX_ITEMS): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** "pci/0000:08:00.0/2 (enp8s0f0npf0vf0)" or "enp7s0f0_0 (sysfs, pci/0000:07:00.0)". */
export function describePort(entry: PortEntry): string {
  const netdev = entry.netdev === '' ? 'no netdev' : entry.netdev;
  if (entry.source === 'devlink') return `${entry.key} (${netdev})`;
  return `${netdev} (sysfs${entry.device ? `, ${entry.device}` : ''})`;
}
