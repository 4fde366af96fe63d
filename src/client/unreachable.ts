/**
 * Why vifplugd cannot be reached, in words a person can act on. grpc-js says
 * "UNAVAILABLE: No connection established. Last error: ... Resolution note:";
 * this says what was tried (the socket or the address), what is there (no
 * socket, a file that is not one, a socket nobody listens on, a socket this
 * process may not use, with its owner, group and mode), and what to check.
 * It looks at the socket itself rather than parsing grpc-js's text where it
 * can. vifplugctl prints it; vifplug-ovn puts it in its log and status.
 */

import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

import { Code, VifplugError } from './client';

/** Why a unix socket or a TCP address could not be used, for scripts (ErrorInfo-like metadata "problem"). */
export type UnreachableProblem = 'no-socket' | 'not-a-socket' | 'refused' | 'permission' | 'timeout' | 'tls' | 'draining' | 'other';

export interface Unreachable {
  /** What was tried: the socket path, or HOST:PORT. */
  readonly where: string;
  readonly problem: UnreachableProblem;
  /** What was tried and what happened, one line. */
  readonly message: string;
  /** What to check, one line. */
  readonly hint: string;
}

/** How the program names the settings that say where vifplugd is (they differ between vifplugctl and vifplug-ovn). */
export interface ConnectionSettings {
  /** e.g. "--socket PATH (or VIFPLUG_SOCKET)". */
  readonly socket: string;
  /** e.g. "--addr HOST:PORT (or VIFPLUG_ADDR)". */
  readonly addr: string;
}

const DEFAULT_SETTINGS: ConnectionSettings = { socket: '--socket PATH', addr: '--addr HOST:PORT' };

/**
 * True when the call never got an answer from vifplugd: the transport failed
 * (no ErrorInfo from the daemon) with UNAVAILABLE or DEADLINE_EXCEEDED, or the
 * daemon is shutting down (DRAINING). A provider that is unavailable is not
 * this: the daemon answered.
 */
export function isUnreachable(err: unknown): err is VifplugError {
  if (!(err instanceof VifplugError)) return false;
  if (err.reason === 'DRAINING') return true;
  return err.reason === '' && (err.code === Code.UNAVAILABLE || err.code === Code.DEADLINE_EXCEEDED);
}

/** Explains a failure that isUnreachable() accepted, for the client of `target` (a grpc-js target). */
export function explainUnreachable(target: string, err: VifplugError, settings: ConnectionSettings = DEFAULT_SETTINGS): Unreachable {
  const unix = target.startsWith('unix:');
  const where = unix ? target.replace(/^unix:(\/\/)?/, '') : target;
  const running = 'is vifplugd running (systemctl status vifplugd)';
  if (err.reason === 'DRAINING') {
    return { where, problem: 'draining', message: `vifplugd at ${where} is shutting down`, hint: 'retry once it, or its replacement, serves again (systemctl status vifplugd)' };
  }
  const errno = /\b(E[A-Z]{3,})\b/.exec(err.detail)?.[1];
  if (err.code === Code.DEADLINE_EXCEEDED && errno === undefined) {
    return {
      where,
      problem: 'timeout',
      message: `vifplugd at ${where} did not answer in time (${err.detail})`,
      hint: `${running}, or overloaded? A longer --timeout gives it more time`,
    };
  }
  if (/ssl|tls|certificate|handshake/i.test(err.detail)) {
    return {
      where,
      problem: 'tls',
      message: `the TLS handshake with vifplugd at ${where} failed (${grpcDetail(err.detail)})`,
      hint: 'check --tls-ca (the CA that signed the daemon\'s certificate), --tls-server-name, and --tls-cert/--tls-key if the daemon asks for a client certificate (--tls-client-ca there)',
    };
  }
  return unix ? explainSocket(where, errno, err, settings, running) : explainTcp(where, errno, err, settings, running);
}

function explainSocket(path: string, errno: string | undefined, err: VifplugError, settings: ConnectionSettings, running: string): Unreachable {
  const elsewhere = `does it serve this socket (its --listen; here ${settings.socket})?`;
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (statErr) {
    const code = (statErr as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return permission(path, undefined, settings);
    const dir = dirname(path);
    const noDir = (() => {
      try {
        lstatSync(dir);
        return '';
      } catch {
        return ` (${dir} does not exist either)`;
      }
    })();
    return { where: path, problem: 'no-socket', message: `no socket at ${path}${noDir}`, hint: `${running}, and ${elsewhere}` };
  }
  if (!stats.isSocket()) {
    return { where: path, problem: 'not-a-socket', message: `${path} is not a socket`, hint: `give the path of vifplugd's socket: ${settings.socket} (vifplugd's --listen says where it serves)` };
  }
  if (errno === 'EACCES' || errno === 'EPERM') return permission(path, stats, settings);
  if (errno === 'ECONNREFUSED') {
    return { where: path, problem: 'refused', message: `nothing listens on ${path} (a socket left behind by a vifplugd that stopped?)`, hint: `${running}? It replaces the stale socket when it starts` };
  }
  return { where: path, problem: 'other', message: `cannot connect to ${path} (${grpcDetail(err.detail)})`, hint: `${running}, and ${elsewhere}` };
}

function explainTcp(address: string, errno: string | undefined, err: VifplugError, settings: ConnectionSettings, running: string): Unreachable {
  if (errno === 'ECONNREFUSED') {
    return { where: address, problem: 'refused', message: `nothing listens at ${address} (connection refused)`, hint: `${running} with --listen ${address}? Here ${settings.addr}` };
  }
  return {
    where: address,
    problem: errno === 'ETIMEDOUT' ? 'timeout' : 'other',
    message: `cannot connect to ${address} (${grpcDetail(err.detail)})`,
    hint: `${running} and listening there (its --listen HOST:PORT)? Can this host reach it? Here ${settings.addr}`,
  };
}

/** EACCES: who may use the socket, and who this process is. */
function permission(path: string, stats: Stats | undefined, settings: ConnectionSettings): Unreachable {
  const me = `this process runs as uid ${process.getuid?.() ?? '?'}, groups ${(process.getgroups?.() ?? []).join(',') || 'none'}`;
  if (stats === undefined) {
    return {
      where: path,
      problem: 'permission',
      message: `permission denied on ${path}: its directory ${dirname(path)} may not be searched by this user`,
      hint: `run as root or as a member of the group that owns ${dirname(path)} (${me}); or ${settings.socket}`,
    };
  }
  const group = groupName(stats.gid);
  const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
  const groupMay = (stats.mode & 0o060) === 0o060;
  return {
    where: path,
    problem: 'permission',
    message: `permission denied on ${path} (mode ${mode}, owner uid ${stats.uid}, group ${group})`,
    hint: groupMay
      ? `run as root or as a member of group ${group}, which may use the socket (${me}); vifplugd's --socket-group chooses that group`
      : `run as root or as uid ${stats.uid} (${me}); vifplugd's --socket-group and --socket-mode (default 0660) let a group use the socket`,
  };
}

/** "vifplug (gid 994)", or the number alone when /etc/group does not name it. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (id !== undefined && Number(id) === gid && name) return `${name} (gid ${gid})`;
    }
  } catch {
    // No /etc/group (a minimal container): the number is all there is.
  }
  return `gid ${gid}`;
}

/** grpc-js's text without its boilerplate: "connect ECONNREFUSED 127.0.0.1:1". */
function grpcDetail(detail: string): string {
  return detail
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\.?\s*Resolution note:.*$/s, '')
    .trim() || detail;
}
