import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';

/** Where the server listens. */
export type ListenAddress =
  | { readonly kind: 'unix'; readonly spec: string; readonly path: string }
  | { readonly kind: 'tcp'; readonly spec: string; readonly host: string; readonly port: number };

/**
 * Parses a listen address: `unix:///abs/path.sock`, `unix:relative.sock`
 * (gRPC naming, relative to the working directory), a bare absolute path
 * (as the kubelet passes endpoints), or `HOST:PORT` / `[IPv6]:PORT`.
 */
export function parseListen(spec: string, cwd = process.cwd()): ListenAddress {
  if (spec.startsWith('unix:')) {
    let path = spec.slice('unix:'.length);
    if (path.startsWith('//')) {
      path = path.slice(2);
      if (!path.startsWith('/')) throw new Error(`"${spec}": unix:// needs an absolute path (three slashes: unix:///run/vifplug.sock)`);
    }
    if (path === '') throw new Error(`"${spec}": no socket path after "unix:"`);
    return { kind: 'unix', spec, path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (spec.startsWith('/')) return { kind: 'unix', spec, path: spec };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(spec);
  if (m === null) {
    throw new Error(`"${spec}" is not a listen address; use unix:///abs/path.sock, unix:relative.sock or HOST:PORT`);
  }
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`"${spec}": port ${port} is out of range 0-65535`);
  return { kind: 'tcp', spec, host: m[1] ?? m[2]!, port };
}

/** The grpc-js bind target for an address. */
export function bindTarget(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** True for addresses that only this host can reach. */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Makes `path` free for a new socket. A socket nobody answers on is the
 * leftover of a daemon that did not exit cleanly and is removed; a live one
 * means another daemon serves there, and a file that is not a socket is
 * somebody else's: both refuse the start rather than steal or destroy.
 */
export async function claimSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stats.isSocket()) {
    throw new Error(`${path} exists and is not a socket; remove it or choose another --listen path`);
  }
  if (await answers(path)) {
    throw new Error(`another process is serving on ${path}; stop it or choose another --listen path`);
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Sets the socket's group and permission bits; returns its inode, to recognise it at exit. */
export async function protectSocket(path: string, mode: number, gid?: number): Promise<number> {
  if (gid !== undefined) {
    await chown(path, -1, gid).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot give ${path} to group ${gid}: ${err.message} (the daemon must run as root or be a member of that group)`);
    });
  }
  await chmod(path, mode);
  return (await lstat(path)).ino;
}

/** A group name or number, as in --socket-group; names are looked up in /etc/group. */
export async function resolveGroup(group: string, groupFile = '/etc/group'): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`no group named "${group}" in ${groupFile}; give its number instead`);
}

/** Removes the socket at exit, unless another process has replaced it meanwhile. */
export async function releaseSocket(path: string, inode: number): Promise<void> {
  try {
    const stats = await lstat(path);
    if (stats.isSocket() && stats.ino === inode) await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ path });
    const done = (alive: boolean) => {
      socket.destroy();
      resolvePromise(alive);
    };
    socket.setTimeout(1000, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
