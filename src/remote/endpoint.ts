/**
 * Reaching a provider's endpoint: whether a unix socket is safe to dial, and
 * the errors of an endpoint that cannot be used or reached. Reading an
 * endpoint's text is the API's (api/endpoint.ts); this is the part that
 * looks at the filesystem.
 */

import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

import { PlugError } from '../registry';

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
