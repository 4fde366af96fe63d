/**
 * The devlink seam: the iproute2 `devlink` executable, run as
 * `<bin> -j port show` without a shell, supervised, with a timeout and a
 * bound on its output. Tests and operators replace it by pointing --devlink-bin at another
 * executable; nothing else in the provider knows how ports are obtained.
 */

import { StringDecoder } from 'node:string_decoder';

import { describeError } from '../../registry/errors';
import { DEFAULT_TIMING } from './config';
import { DevlinkJsonError, DevlinkPortsParser, type ParsedPorts } from './devlink-ports';
import { describeExit, exitCause, spawnSupervised, type ExitCause, type SupervisedProcess } from './supervised-process';

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
   * The answer "this host has no devlink" (no netlink family, no iproute2),
   * as opposed to a devlink that is there but failing. Whether to believe it
   * is the refresh loop's decision (devlink-health.ts): the same words can be
   * an intermittent failure on a host whose devlink worked a moment ago.
   */
  get saysAbsent(): boolean {
    return this.kind === 'no-devlink' || this.kind === 'missing';
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
const MAX_STDERR_BYTES = 4096;

/**
 * `<bin> -j port show`, parsed as it arrives (DevlinkPortsParser): a
 * reading holds the ports it keeps, not the output. The child runs
 * supervised (supervised-process.ts): a timeout, an oversize output or
 * bad JSON kills its whole process group at once.
 */
export function execDevlinkSource(options: DevlinkRunnerOptions): DevlinkSource {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMING.devlinkTimeoutMs;
  const maxBytes = options.maxOutputBytes ?? DEFAULT_TIMING.devlinkMaxOutputBytes;
  const command = `"${options.bin} -j port show"`;
  return {
    readPorts: () =>
      new Promise<ParsedPorts>((resolve, reject) => {
        let proc: SupervisedProcess;
        try {
          proc = spawnSupervised(options.bin, ['-j', 'port', 'show']);
        } catch (err) {
          reject(new DevlinkError('failed', `cannot run ${command}: ${describeError(err)}`));
          return;
        }
        const { child } = proc;
        const parser = new DevlinkPortsParser();
        const decoder = new StringDecoder('utf8');
        let bytes = 0;
        let stderr = '';
        let refused: DevlinkError | undefined;
        const refuse = (error: DevlinkError): void => {
          if (refused !== undefined) return;
          refused = error;
          proc.signal('KILL');
        };
        const timer = setTimeout(
          () => refuse(new DevlinkError('timeout', `${command} did not finish within ${timeoutMs} ms; killed it and its process group`)),
          timeoutMs,
        );
        child.stdout!.on('data', (chunk: Buffer) => {
          if (refused !== undefined) return;
          bytes += chunk.length;
          if (bytes > maxBytes) {
            refuse(new DevlinkError('output-too-large', `${command} printed more than ${maxBytes} bytes (the limit for one reading); killed it`));
            return;
          }
          try {
            parser.write(decoder.write(chunk));
          } catch (err) {
            refuse(badJson(command, err));
          }
        });
        child.stderr!.on('data', (chunk: Buffer) => {
          if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8');
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new DevlinkError('failed', `cannot run ${command}: ${describeError(err)}`));
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          if (refused !== undefined) return reject(refused);
          const cause = exitCause(code, signal);
          if (cause.kind !== 'exited' || cause.code !== 0) return reject(classify(options.bin, command, cause, stderr));
          try {
            parser.write(decoder.end());
            resolve(parser.end());
          } catch (err) {
            reject(badJson(command, err));
          }
        });
      }),
  };
}

function badJson(command: string, err: unknown): DevlinkError {
  const detail = err instanceof DevlinkJsonError ? err.message : describeError(err);
  return new DevlinkError('bad-json', `${command} printed something that is not its JSON: ${detail}`);
}

function classify(bin: string, command: string, cause: ExitCause, stderr: string): DevlinkError {
  if (cause.kind === 'not-found') {
    return new DevlinkError('missing', `devlink executable "${bin}" not found; install iproute2 or pass --devlink-bin`);
  }
  const text = firstLines(stderr);
  if (NO_DEVLINK_NETLINK.test(stderr)) {
    return new DevlinkError('no-devlink', `the kernel offers no devlink interface (${command}: ${text})`);
  }
  return new DevlinkError('failed', `${command} ${describeExit(cause)}${text ? `: ${text}` : ''}`);
}

function firstLines(stderr: string): string {
  const text = stderr.trim().replace(/\s+/g, ' ');
  return text.length > MAX_STDERR_IN_MESSAGE ? `${text.slice(0, MAX_STDERR_IN_MESSAGE)}...` : text;
}
