/**
 * How a client program finds vifplugd: --socket or --addr, TLS when a
 * --tls-* file is given, a deadline per call. Shared by vifplugctl and
 * vifplug-ovn, so both spell the connection flags alike.
 */

import { readFileSync } from 'node:fs';

import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

import { VifplugClient } from '../client/client';
import { UsageError } from './flags';

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

/**
 * A client for the daemon the flags name: --socket PATH (a unix socket) or
 * --addr HOST:PORT, TLS when a --tls-* file is given. `fallback` is what the
 * environment says when neither flag is given. Throws UsageError.
 */
export function connectVifplugd(values: ConnectionFlags, fallback: { socket?: string; addr?: string } = {}, options: { maxAttempts?: number } = {}): VifplugClient {
  if (values.addr !== undefined && values.socket !== undefined) throw new UsageError('give --socket or --addr, not both');
  const addr = values.addr ?? (values.socket === undefined ? fallback.addr : undefined);
  const socket = values.socket ?? fallback.socket ?? DEFAULT_SOCKET;
  const timeout = values.timeout === undefined ? 5 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout "${values.timeout}" is not a positive number of seconds`);
  const target = addr !== undefined && addr !== '' ? addr : `unix://${socket.startsWith('/') ? socket : `${process.cwd()}/${socket}`}`;
  const tls = values['tls-ca'] !== undefined || values['tls-cert'] !== undefined || values['tls-key'] !== undefined;
  if (tls && target.startsWith('unix:')) throw new UsageError('TLS applies to --addr (TCP) only');
  const channelOptions: Record<string, string> = {};
  if (values['tls-server-name'] !== undefined) channelOptions['grpc.ssl_target_name_override'] = values['tls-server-name'];
  return new VifplugClient(target, {
    credentials: tls ? tlsCredentials(values) : undefined,
    deadlineMs: timeout * 1000,
    channelOptions,
    ...options,
  });
}

function tlsCredentials(values: ConnectionFlags): ChannelCredentials {
  const read = (flag: 'tls-ca' | 'tls-cert' | 'tls-key') => {
    const file = values[flag];
    if (file === undefined) return null;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`--${flag} ${file}: ${(err as Error).message}`);
    }
  };
  const [cert, key] = [read('tls-cert'), read('tls-key')];
  if ((cert === null) !== (key === null)) throw new UsageError('--tls-cert and --tls-key go together');
  return credentials.createSsl(read('tls-ca'), key, cert);
}
