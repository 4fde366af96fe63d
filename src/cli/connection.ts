/**
 * How a client program finds vifplugd: --socket (a path, or unix:///path as
 * --listen spells it) or --addr, TLS when a --tls-* file is given, a
 * deadline per call. Shared by vifplugctl and vifplug-ovn, so both spell the
 * connection flags alike and refuse the same mistakes alike.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

import { bindTarget, parseListen } from '../api/endpoint';
import { VifplugClient } from '../client/client';
import { UsageError, shown } from './flags';

export const DEFAULT_SOCKET = '/run/vifplug/vifplug.sock';

/** Where vifplugd is and how to reach it, spelled as vifplugctl spells it; every client command takes these. */
export interface ConnectionFlags {
  readonly socket?: string;
  readonly addr?: string;
  readonly 'tls-ca'?: string;
  readonly 'tls-cert'?: string;
  readonly 'tls-key'?: string;
  readonly 'tls-server-name'?: string;
  /** Seconds per call. */
  readonly timeout?: string;
}

/** How the user gave each connection flag (`--socket`, or the variable's name), for messages; `--NAME` when not said. */
export type ConnectionNames = Partial<Record<keyof ConnectionFlags, string>>;

/**
 * A client for the daemon the flags name: --socket PATH or unix:///PATH (a
 * unix socket) or --addr HOST:PORT, TLS when a --tls-* file is given.
 * `fallback` is what the environment says when neither flag is given.
 * Throws UsageError naming the flag as the user gave it.
 */
export function connectVifplugd(
  values: ConnectionFlags,
  fallback: { socket?: string; addr?: string } = {},
  options: { maxAttempts?: number; names?: ConnectionNames } = {},
): VifplugClient {
  const name = (flag: keyof ConnectionFlags): string => options.names?.[flag] ?? `--${flag}`;
  if (values.addr !== undefined && values.socket !== undefined) throw new UsageError(`give ${name('socket')} or ${name('addr')}, not both`);
  const addr = values.addr ?? (values.socket === undefined ? fallback.addr : undefined);
  const timeout = timeoutSeconds(values.timeout, name('timeout'));
  const target = addr !== undefined && addr !== '' ? tcpTarget(addr, name('addr')) : socketTarget(values.socket ?? fallback.socket ?? DEFAULT_SOCKET, name('socket'));
  const tls = values['tls-ca'] !== undefined || values['tls-cert'] !== undefined || values['tls-key'] !== undefined;
  if (tls && target.startsWith('unix:')) throw new UsageError(`TLS applies to ${name('addr')} (TCP) only; a unix socket is protected by its mode and group`);
  const channelOptions: Record<string, string> = {};
  if (values['tls-server-name'] !== undefined) channelOptions['grpc.ssl_target_name_override'] = values['tls-server-name'];
  return new VifplugClient(target, {
    credentials: tls ? tlsCredentials(values, name) : undefined,
    deadlineMs: timeout * 1000,
    channelOptions,
    maxAttempts: options.maxAttempts,
  });
}

/** --timeout's value: seconds per call, 5 when not given. */
export function timeoutSeconds(value: string | undefined, given = '--timeout'): number {
  if (value === undefined) return 5;
  const timeout = Number(value);
  if (!(/^\d+(\.\d+)?$/.test(value) && timeout > 0)) throw new UsageError(`${shown(given, value)} is not a positive number of seconds, e.g. 5 or 0.5`);
  return timeout;
}

/**
 * --socket's value as a grpc-js target: a path (relative to the working
 * directory), or unix:///abs/path and unix:relative as --listen takes them.
 * Another scheme is refused: --addr is for TCP.
 */
export function socketTarget(value: string, given = '--socket'): string {
  const expected = 'a unix socket path such as /run/vifplug/vifplug.sock or unix:///run/vifplug/vifplug.sock';
  if (value === '') throw new UsageError(`${given} is empty; give ${expected}`);
  if (value.startsWith('unix:')) {
    try {
      return bindTarget(parseListen(value));
    } catch (err) {
      throw new UsageError(`${given} ${(err as Error).message}`);
    }
  }
  const hostPort = /^[^/]*:\d+$/.test(value);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1];
  if (hostPort || scheme !== undefined) {
    const tcp = hostPort || /^(dns|ipv4|ipv6|tcp|http|https)$/i.test(scheme ?? '');
    throw new UsageError(`${shown(given, value)} is not ${expected}${tcp ? '; for a TCP address use --addr HOST:PORT' : `; "${scheme}:" is not a scheme it takes`}`);
  }
  return `unix://${resolve(value)}`;
}

/** --addr's value as a grpc-js target: HOST:PORT or [IPv6]:PORT. */
export function tcpTarget(value: string, given = '--addr'): string {
  let address;
  try {
    address = parseListen(value);
  } catch {
    address = undefined;
  }
  if (address?.kind !== 'tcp') {
    const unix = value.startsWith('unix:') || value.startsWith('/');
    throw new UsageError(`${shown(given, value)} is not HOST:PORT (e.g. 10.0.0.5:50051 or [fd00::5]:50051)${unix ? '; for a unix socket use --socket' : ''}`);
  }
  return bindTarget(address);
}

/** The credentials the --tls-* files make (TLS, and mutual TLS with a certificate and key). */
export function tlsCredentials(values: ConnectionFlags, name: (flag: keyof ConnectionFlags) => string = (flag) => `--${flag}`): ChannelCredentials {
  const read = (flag: 'tls-ca' | 'tls-cert' | 'tls-key') => {
    const file = values[flag];
    if (file === undefined) return null;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`${name(flag)} ${file}: ${(err as Error).message}`);
    }
  };
  const [cert, key] = [read('tls-cert'), read('tls-key')];
  if ((cert === null) !== (key === null)) throw new UsageError(`${name('tls-cert')} and ${name('tls-key')} go together`);
  return credentials.createSsl(read('tls-ca'), key, cert);
}
