/**
 * Children that cannot outlive their purpose: every devlink / ip process the
 * provider starts runs under a few lines of /bin/sh that
 *
 * - start the command through util-linux `setsid`, so that it leads a
 *   process group of its own and a timeout or a shutdown kills that group
 *   whole: a --devlink-bin that is a wrapper script takes its hung
 *   grandchildren with it;
 * - keep the read end of a pipe whose only write end is the daemon's. The
 *   daemon asks for a signal by writing its name there; when the daemon dies,
 *   even by SIGKILL, the kernel closes its end, the watcher's `read` sees
 *   end-of-file, and it kills the command's group.
 *
 * Node has no prctl(PR_SET_PDEATHSIG), and real iproute2 monitors never read
 * their stdin: `ip monitor` and `devlink monitor` block in recvmsg() on their
 * netlink socket and notice a dead reader only when their next write fails,
 * so on a quiet host an orphaned monitor would live on indefinitely. The
 * watcher works for any executable, without its cooperation. The shell
 * waits for the command, so the command is reaped by it, not left as a
 * zombie to an init that may not reap (a container's node as PID 1).
 *
 * The script's exit status is the command's (128+N when a signal N ended it;
 * 127: not found, 126: not executable, as POSIX shells report them). A
 * command that leaves its process group on purpose (setsid, daemon()) is
 * beyond reach; iproute2 does not. Without `setsid` on the PATH the command
 * shares the shell's group and only it is signalled.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/**
 * fd 3 keeps the daemon's pipe for the watcher; the command gets /dev/null
 * and no fd 3. A signal to the group falls back to the pid while setsid has
 * not yet made the group (the first instant after the fork).
 */
const SUPERVISOR_SCRIPT = [
  'exec 3<&0 </dev/null',
  'if command -v setsid >/dev/null 2>&1; then setsid "$@" 3<&- & else "$@" 3<&- & fi',
  'child=$!',
  'signal() { kill -s "$1" -- "-$child" 2>/dev/null || kill -s "$1" "$child" 2>/dev/null; }',
  '{ while read -r sig <&3; do signal "$sig"; done; signal KILL; } &',
  'watcher=$!',
  'exec 3<&-',
  // dash reports a command killed by a signal ("Killed") on stderr, which is the command's.
  'wait "$child" 2>/dev/null',
  'status=$?',
  // Whatever the command left running in its group ends with it.
  'kill -s KILL -- "-$child" 2>/dev/null',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

/** How the supervisor shows up in `ps`. */
const SUPERVISOR_NAME = 'vifplug-supervise';

export type GroupSignal = 'TERM' | 'KILL';

export interface SupervisedProcess {
  /** The supervising shell: its exit status is the command's, its stdout and stderr are the command's. */
  readonly child: ChildProcess;
  /** Signals the command's whole process group; nothing happens once it has ended. */
  signal(signal: GroupSignal): void;
}

/** Starts `bin args...` under the supervisor, stdout and stderr piped to us. */
export function spawnSupervised(bin: string, args: readonly string[]): SupervisedProcess {
  const child = spawn('/bin/sh', ['-c', SUPERVISOR_SCRIPT, SUPERVISOR_NAME, bin, ...args], {
    // stdin: the pipe whose closing means "the daemon is gone".
    stdio: ['pipe', 'pipe', 'pipe'],
    // A session of its own: a Ctrl-C meant for a daemon run from a terminal
    // must not kill the watcher before the daemon has stopped the command.
    detached: true,
    windowsHide: true,
  });
  // Writing to a supervisor that has just exited fails with EPIPE: nothing is left to signal.
  child.stdin?.on('error', () => undefined);
  return {
    child,
    signal(signal) {
      if (child.exitCode !== null || child.signalCode !== null || child.stdin === null || child.stdin.destroyed) return;
      child.stdin.write(`${signal}\n`);
    },
  };
}

/** What ended a supervised command, from the supervisor's exit. */
export type ExitCause =
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'not-executable' };

export function exitCause(code: number | null, signal: NodeJS.Signals | null): ExitCause {
  // The supervisor itself was signalled: the group was killed (timeout, stop).
  if (code === null) return { kind: 'signal', signal: signal ?? 'unknown signal' };
  if (code === 127) return { kind: 'not-found' };
  if (code === 126) return { kind: 'not-executable' };
  if (code > 128 && code < 128 + 65) return { kind: 'signal', signal: signalName(code - 128) };
  return { kind: 'exited', code };
}

export function describeExit(cause: ExitCause): string {
  switch (cause.kind) {
    case 'exited':
      return `exited with status ${cause.code}`;
    case 'signal':
      return `was killed by ${cause.signal}`;
    case 'not-found':
      return 'was not found';
    case 'not-executable':
      return 'is not executable';
  }
}

function signalName(n: number): string {
  for (const [name, value] of Object.entries(constants.signals)) if (value === n) return name;
  return `signal ${n}`;
}
