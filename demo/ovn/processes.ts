/**
 * Whether a process still runs, as /proc shows it. A zombie does not count:
 * it has exited and only waits to be reaped, which the init of some machines
 * (and a container's node as PID 1) never does for orphans.
 */

import { readFileSync } from 'node:fs';

export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) S ...": the state follows the last ")" (comm may hold one).
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
