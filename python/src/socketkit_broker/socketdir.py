"""The socket directory check socketkit's Node clients make (core/src/socket-dir.ts), in Python.

Every component of the directory's path, from ``/`` down, must be owned by you or root and writable by others
only with the sticky bit (never by its group); a symbolic link is followed only when you or root own it. The
socket file itself must be a socket owned by you or root. Then nobody else can swap the broker under you.
"""

import os
import stat

from .errors import BrokerUnavailable

_MAX_LINKS = 40


class InsecureSocketDir(BrokerUnavailable):
    """The socket directory (or a component of its path, or the socket) could be changed by someone else."""

    code = 'INSECURE_SOCKET_DIR'


def _trusted(uid: int) -> bool:
    return uid in (0, os.getuid())


def _problem(st: os.stat_result):
    if not _trusted(st.st_uid):
        return f'owned by uid {st.st_uid} (not you, uid {os.getuid()}, nor root)'
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return 'writable by everyone without the sticky bit'
    if st.st_mode & stat.S_IWGRP and not st.st_mode & stat.S_ISVTX:
        return 'writable by its group'
    return None


def _insecure(what: str, path: str, why: str) -> InsecureSocketDir:
    return InsecureSocketDir(
        f'{what} {path} is {why}: use a directory only you (or root) can write, e.g. mkdir -m 700, or pass '
        'allow_insecure_dir=True if you trust everyone who can write it', details={'path': path})


def check_socket_path(socket_path: str) -> None:
    """Raises InsecureSocketDir (or OSError when the path cannot be walked)."""
    directory = os.path.dirname(os.path.abspath(socket_path))
    pending = [c for c in directory.split('/') if c not in ('', '.')]
    cur = '/'
    st = os.lstat('/')
    why = _problem(st)
    if why:
        raise _insecure('socket directory path component', '/', why)
    links = 0
    while pending:
        name = pending.pop(0)
        if name == '..':
            cur = os.path.dirname(cur) or '/'
            continue
        nxt = os.path.join(cur, name)
        st = os.lstat(nxt)
        if stat.S_ISLNK(st.st_mode):
            if not _trusted(st.st_uid):
                raise _insecure('socket directory path component', nxt, f'a symbolic link owned by uid {st.st_uid}')
            links += 1
            if links > _MAX_LINKS:
                raise OSError(f'too many symbolic links in {directory}')
            target = os.readlink(nxt)
            if target.startswith('/'):
                cur = '/'
            pending[:0] = [c for c in target.split('/') if c not in ('', '.')]
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(nxt)
        why = _problem(st)
        if why:
            what = 'socket directory' if os.path.realpath(nxt) == os.path.realpath(directory) and not pending else \
                'socket directory path component'
            raise _insecure(what, nxt, why)
        cur = nxt
    try:
        st = os.lstat(os.path.join(cur, os.path.basename(socket_path)))
    except FileNotFoundError:
        return  # nothing there yet: connecting fails on its own (and is retried)
    if not stat.S_ISSOCK(st.st_mode):
        raise _insecure('socket', socket_path, 'not a socket')
    if not _trusted(st.st_uid):
        raise _insecure('socket', socket_path, f'owned by uid {st.st_uid}')
