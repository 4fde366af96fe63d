/**
 * Whether a process still runs, as /proc shows it. A zombie does not count:
 * it has exited and only waits to be reaped, which the init of some machines
 * (and a container's node as PID 1) never does for orphans.
 */

import { readFileSync, readdirSync } from 'node:fs';

/**
 * How long a test waits for a child process to start, react or end: a node
 * stand-in for devlink or ip takes more than vi.waitFor's default second to
 * start on a loaded 2-core machine.
 */
export const PROCESS_WAIT = { timeout: 10_000, interval: 20 } as const;

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

/** The pids of processes whose command line contains `text`, from /proc. */
export function processesWith(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text) && isRunning(Number(entry))) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
