/**
 * Where a remote provider serves: parsing the endpoint a caller gives
 * (unix:///abs/path.sock, or HOST:PORT over TLS), checking that a unix
 * socket is a socket in a directory only its owner can write, and the
 * errors that say why an endpoint is refused or unreachable.
 *
 * It never dials: reaching the provider is connection.ts's.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, posix } from 'node:path';

import { PlugError } from '../registry';

/** Where a remote provider serves. */
export type ProviderEndpoint =
  | { readonly kind: 'unix'; readonly spec: string; readonly path: string }
  | { readonly kind: 'tcp'; readonly spec: string; readonly host: string; readonly port: number };

/** sun_path is 108 bytes on Linux, the last one a NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Why an endpoint string was refused (ErrorInfo metadata "problem"). */
export type EndpointProblem = 'malformed' | 'relative' | 'dot-segment' | 'too-long' | 'host';

/**
 * Parses a provider endpoint: `unix:///abs/path.sock`, or `HOST:PORT` /
 * `[IPv6]:PORT` for a provider reached over TLS. Stricter than the daemon's
 * own --listen: an endpoint comes from a caller, and a path that leaves
 * room for interpretation (relative, with "." or "..", a host part) could
 * name a socket other than the one the caller meant.
 */
export function parseEndpoint(spec: string): ProviderEndpoint {
  if (spec.includes('\0')) throw badEndpoint(spec, 'malformed', 'it contains a NUL character');
  if (spec.startsWith('unix:')) return parseUnix(spec);
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(spec);
  if (m === null) {
    const hint = spec.startsWith('/') ? `; write unix://${spec}` : '';
    throw badEndpoint(spec, 'malformed', `use unix:///abs/path.sock, or HOST:PORT for a provider served over TLS${hint}`);
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw badEndpoint(spec, 'malformed', `port ${port} is out of range 1-65535`);
  return { kind: 'tcp', spec, host: m[1] ?? m[2]!, port };
}

function parseUnix(spec: string): ProviderEndpoint {
  const rest = spec.slice('unix:'.length);
  if (!rest.startsWith('//')) {
    throw badEndpoint(spec, 'relative', 'a provider socket must be named by its absolute path: unix:///abs/path.sock (three slashes)');
  }
  const path = rest.slice(2);
  if (!path.startsWith('/')) {
    const host = path.split('/')[0];
    throw badEndpoint(
      spec,
      path === '' ? 'malformed' : 'host',
      path === '' ? 'no socket path after "unix://"' : `unix:// takes no host ("${host}"); write unix:///abs/path.sock (three slashes)`,
    );
  }
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) {
    throw badEndpoint(spec, 'dot-segment', 'the path has a "." or ".." component; give the socket\'s canonical path');
  }
  if (segments.some((s) => s === '') || posix.normalize(path) !== path) {
    throw badEndpoint(spec, 'malformed', 'the path has an empty component ("//") or a trailing "/"; give the socket\'s canonical path');
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw badEndpoint(spec, 'too-long', `the socket path is ${bytes} bytes; a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  return { kind: 'unix', spec, path };
}

function badEndpoint(spec: string, problem: EndpointProblem, why: string): PlugError {
  const shown = spec.length > 120 ? `${spec.slice(0, 117)}...` : spec;
  return new PlugError('INVALID_ARGUMENT', 'INVALID_ENDPOINT', `endpoint "${shown}" is not usable: ${why}`, {
    metadata: { field: 'endpoint', problem },
    fieldViolations: [{ field: 'endpoint', description: why }],
  });
}

/**
 * Checks that a unix endpoint names a socket that only trusted users could
 * have put there: the path is a socket (not a symlink or a file), its
 * directory is writable by its owner only, and every directory above is
 * either writable by its owner only or sticky (as /tmp is: others may add
 * entries there, but not replace ours). A missing socket is UNAVAILABLE: the
 * provider may not have started yet.
 */
export async function checkSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw unreachable(`unix://${path}`, 'no socket exists there (yet)');
    throw unreachable(`unix://${path}`, `cannot look at it: ${(err as Error).message}`);
  }
  if (!stats.isSocket()) {
    const what = stats.isSymbolicLink() ? 'a symbolic link' : stats.isDirectory() ? 'a directory' : 'a regular file or device';
    throw new PlugError(
      'FAILED_PRECONDITION',
      'ENDPOINT_NOT_SOCKET',
      `unix://${path} is ${what}, not a socket; give the path the provider listens on`,
      { metadata: { endpoint: `unix://${path}` } },
    );
  }
  const parent = await realpath(dirname(path));
  for (let dir = parent, first = true; ; dir = dirname(dir), first = false) {
    const mode = (await stat(dir)).mode;
    const othersWrite = (mode & 0o022) !== 0;
    const sticky = (mode & 0o1000) !== 0;
    if (othersWrite && (first || !sticky)) {
      throw new PlugError(
        'FAILED_PRECONDITION',
        'ENDPOINT_UNSAFE_DIRECTORY',
        `${dir} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')}) is writable by users other than its owner, who could put their own socket at unix://${path}; ` +
          'serve the provider from a directory only its owner can write (e.g. mode 0755)',
        { metadata: { endpoint: `unix://${path}`, directory: dir } },
      );
    }
    if (dir === '/') return;
  }
}

/** Nothing answers at the endpoint; worth retrying. */
export function unreachable(endpoint: string, why: string, retryAfterMs = 1000): PlugError {
  return new PlugError('UNAVAILABLE', 'PROVIDER_UNREACHABLE', `no provider answers at ${endpoint}: ${why}`, {
    metadata: { endpoint },
    retryAfterMs,
  });
}

/** A TCP endpoint, and the daemon was not given TLS settings for providers. */
export function tcpWithoutTls(endpoint: string): PlugError {
  return new PlugError(
    'FAILED_PRECONDITION',
    'ENDPOINT_TCP_WITHOUT_TLS',
    `endpoint ${endpoint} is TCP, and vifplugd reaches providers over TCP only with TLS; start it with --provider-tls-ca (and --provider-tls-cert/--provider-tls-key), or serve the provider on a unix socket`,
    { metadata: { endpoint } },
  );
}
