/**
 * The life of a unix socket file that a server of ours listens on: made free
 * for binding (a stale leftover is removed, a live socket or a foreign file
 * refuses the start), given its group and mode, and removed at exit unless
 * another process replaced it meanwhile. Used by every server we run: the
 * daemon's gRPC listeners, an SDK provider's, vifplug-ovn's status socket.
 */

import { constants } from 'node:fs';
import { access, chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** How the program lets its operator choose a socket path, for the remedy of a refusal: e.g. "--listen unix:///PATH". */
export interface SocketSetting {
  /** The flag and the form of its value, e.g. "--listen unix:///PATH" or "--status-socket PATH". */
  readonly flag: string;
}

/**
 * Makes `path` free for a new socket. A socket nobody answers on is the
 * leftover of a daemon that did not exit cleanly and is removed; a live one
 * means another daemon serves there, and a file that is not a socket is
 * somebody else's: both refuse the start rather than steal or destroy. A
 * directory this process cannot create or write is refused here, with the
 * remedy, rather than by the bind that would follow.
 */
export async function claimSocketPath(path: string, setting: SocketSetting = { flag: 'another socket path' }): Promise<void> {
  const dir = dirname(path);
  const elsewhere = setting.flag.startsWith('-') ? `pass ${setting.flag} in a directory you can write` : `choose ${setting.flag}`;
  let step = 'create the directory';
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    step = 'write in';
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const remedy = `run as root (the systemd unit and the container image provide ${dir}), or ${elsewhere}`;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      const who = code === 'EROFS' ? 'a read-only file system' : `permission denied to uid ${process.getuid?.() ?? '?'}`;
      throw new Error(`cannot ${step} ${dir} for the socket ${path} (${code}: ${who}); ${remedy}`, { cause: err });
    }
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new Error(`cannot create the socket ${path}: ${dir} is not a directory; ${elsewhere}`, { cause: err });
    throw err;
  }
  let stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const other = setting.flag.startsWith('-') ? `pass another ${setting.flag}` : `choose ${setting.flag}`;
  if (!stats.isSocket()) {
    throw new Error(`${path} exists and is not a socket; remove it or ${other}`);
  }
  if (await answers(path)) {
    throw new Error(`another process is serving on ${path}; stop it or ${other}`);
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
