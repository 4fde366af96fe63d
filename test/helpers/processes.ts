/**
 * Processes as the tests see them in /proc: whether one still runs (a zombie
 * does not count: demo/ovn/processes.ts, which the OVN sandbox uses too), which
 * run a given command line, and which descend from a given one.
 */

import { readFileSync, readdirSync } from 'node:fs';

import { isRunning } from '../../demo/ovn/processes';

export { isRunning };

/**
 * How long a test waits for a child process to start, react or end: a node
 * stand-in for devlink or ip takes more than vi.waitFor's default second to
 * start on a loaded 2-core machine.
 */
export const PROCESS_WAIT = { timeout: 10_000, interval: 20 } as const;

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

/** The pids of the running processes below `pid` (children, their children, ...), from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": the fields after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      if (isRunning(child)) found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}
