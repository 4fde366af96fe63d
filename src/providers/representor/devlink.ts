/**
 * The devlink seam: the iproute2 `devlink` executable, run as
 * `<bin> -j port show` without a shell, with a timeout and a bound on its
 * output. Tests and operators replace it by pointing --devlink-bin at another
 * executable; nothing else in the provider knows how ports are obtained.
 */

import { execFile } from 'node:child_process';

import { DEFAULT_TIMING } from './config';
import { DevlinkJsonError, parseDevlinkPortsJson, type ParsedPorts } from './devlink-ports';

/** Why the ports could not be read. */
export type DevlinkFailureKind =
  /** The executable does not exist (iproute2 not installed, wrong --devlink-bin). */
  | 'missing'
  /** The kernel has no devlink generic-netlink family (old kernel, some containers and VMs). */
  | 'no-devlink'
  | 'timeout'
  | 'output-too-large'
  | 'bad-json'
  /** Any other failure: non-zero exit, killed, not executable. */
  | 'failed';

export class DevlinkError extends Error {
  override readonly name = 'DevlinkError';
  constructor(
    readonly kind: DevlinkFailureKind,
    message: string,
  ) {
    super(message);
  }

  /**
   * Failures that say nothing about the hardware: a previous good reading is
   * a better picture than sysfs alone (which lacks the DPU's function MACs).
   */
  get transient(): boolean {
    return this.kind === 'timeout' || this.kind === 'output-too-large' || this.kind === 'bad-json' || this.kind === 'failed';
  }
}

export interface DevlinkSource {
  /** All devlink ports of the host; throws DevlinkError. */
  readPorts(): Promise<ParsedPorts>;
}

export interface DevlinkRunnerOptions {
  readonly bin: string;
  /** Default: DEFAULT_TIMING.devlinkTimeoutMs. */
  readonly timeoutMs?: number;
  /** Default: DEFAULT_TIMING.devlinkMaxOutputBytes. */
  readonly maxOutputBytes?: number;
}

/** What iproute2 prints when the kernel has no devlink generic-netlink family (fixture 20). */
export const NO_DEVLINK_NETLINK = /Failed to connect to devlink Netlink/i;
const MAX_STDERR_IN_MESSAGE = 300;

/** `<bin> -j port show`, parsed. */
export function execDevlinkSource(options: DevlinkRunnerOptions): DevlinkSource {
  const timeout = options.timeoutMs ?? DEFAULT_TIMING.devlinkTimeoutMs;
  const maxBuffer = options.maxOutputBytes ?? DEFAULT_TIMING.devlinkMaxOutputBytes;
  return {
    readPorts: () =>
      new Promise<ParsedPorts>((resolve, reject) => {
        execFile(
          options.bin,
          ['-j', 'port', 'show'],
          { timeout, maxBuffer, killSignal: 'SIGKILL', encoding: 'utf8', windowsHide: true },
          (error, stdout, stderr) => {
            if (error) {
              reject(classify(options.bin, error, stderr, timeout, maxBuffer));
              return;
            }
            try {
              resolve(parseDevlinkPortsJson(stdout));
            } catch (err) {
              const detail = err instanceof DevlinkJsonError ? err.message : String(err);
              reject(new DevlinkError('bad-json', `"${options.bin} -j port show" printed something that is not its JSON: ${detail}`));
            }
          },
        );
      }),
  };
}

type ExecError = Error & { code?: string | number | null; killed?: boolean; signal?: NodeJS.Signals | null };

function classify(bin: string, error: ExecError, stderr: string, timeoutMs: number, maxBuffer: number): DevlinkError {
  const command = `"${bin} -j port show"`;
  if (error.code === 'ENOENT') {
    return new DevlinkError('missing', `devlink executable "${bin}" not found; install iproute2 or pass --devlink-bin`);
  }
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
    return new DevlinkError('output-too-large', `${command} printed more than ${maxBuffer} bytes; killed it`);
  }
  if (error.killed === true && error.signal === 'SIGKILL') {
    return new DevlinkError('timeout', `${command} did not finish within ${timeoutMs} ms; killed it`);
  }
  const text = firstLines(stderr);
  if (NO_DEVLINK_NETLINK.test(stderr)) {
    return new DevlinkError('no-devlink', `the kernel offers no devlink interface (${command}: ${text})`);
  }
  if (typeof error.code === 'string') {
    return new DevlinkError('failed', `cannot run ${command}: ${error.code}`);
  }
  const how = error.signal ? `was killed by ${error.signal}` : `exited with status ${String(error.code)}`;
  return new DevlinkError('failed', `${command} ${how}${text ? `: ${text}` : ''}`);
}

function firstLines(stderr: string): string {
  const text = stderr.trim().replace(/\s+/g, ' ');
  return text.length > MAX_STDERR_IN_MESSAGE ? `${text.slice(0, MAX_STDERR_IN_MESSAGE)}...` : text;
}
