"""The life of the unix socket a provider serves on: made free for binding (a
stale leftover is removed; a live socket, or a file that is not a socket,
refuses the start), bound where nobody else can reach it, given its mode and
only then linked into place, and removed at exit unless another process
replaced it meanwhile. Removing it matters: vifplugd's --provider-dir watcher
unregisters a provider whose socket is gone.

Binding elsewhere first also keeps the socket when another process replaced
it: gRPC removes the path it bound when the server stops, whatever is there
by then; here that is the private path, long gone.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import tempfile
from typing import Callable

#: sockaddr_un's sun_path holds 107 bytes and a NUL.
MAX_PATH_BYTES = 107


def check_path(path: str) -> None:
    if not os.path.isabs(path):
        raise ValueError('socket "%s" must be an absolute path' % path)
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise ValueError('socket "%s" is longer than %d bytes, the most a unix socket path may be' % (path, MAX_PATH_BYTES))


def claim(path: str) -> None:
    """Makes path free for a new socket, creating its directory (0755) if needed."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise RuntimeError("%s exists and is not a socket; remove it or choose another --socket path" % path)
    if _answers(path):
        raise RuntimeError("another process is serving on %s; stop it or choose another --socket path" % path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def bind(path: str, mode: int, listen: Callable[[str], None]) -> int:
    """Makes the socket at path with listen(path of a socket to bind) and gives
    it `mode`; returns its inode, to recognise it at exit."""
    claim(path)
    # A directory of our own (0700; its name starts with "." so that a
    # --provider-dir watcher ignores it), in the same file system as path.
    staging = tempfile.mkdtemp(prefix=".", dir=os.path.dirname(path))
    try:
        private = os.path.join(staging, "s")
        if len(os.fsencode(private)) > MAX_PATH_BYTES:
            return _bind_in_place(path, mode, listen)
        listen(private)
        os.chmod(private, mode)
        try:
            os.link(private, path)
        except FileExistsError:
            raise RuntimeError("another process took %s while this one was starting; stop it or choose another --socket path" % path) from None
        os.unlink(private)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return os.lstat(path).st_ino


def _bind_in_place(path: str, mode: int, listen: Callable[[str], None]) -> int:
    """For a path whose directory leaves no room for a staging one: bound under a
    umask that keeps others out until the chmod (the umask is the process's)."""
    umask = os.umask(0o177)
    try:
        listen(path)
    finally:
        os.umask(umask)
    os.chmod(path, mode)
    return os.lstat(path).st_ino


def release(path: str, inode: int) -> None:
    """Removes the socket, unless another process has replaced it meanwhile."""
    try:
        st = os.lstat(path)
        if stat.S_ISSOCK(st.st_mode) and st.st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except socket.timeout:
        return True
    except OSError as err:
        if err.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    finally:
        probe.close()
