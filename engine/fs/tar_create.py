"""Make a tar of a path inside a container's root, and stat such a path (``docker cp``,
``export``), without running any host code inside that root.

The root is an fd (``/proc/<pid>/root`` of a running container, its merged overlay
otherwise); every lookup goes through :mod:`engine.fs.resolve`, so the container's
symlinks resolve inside it. Nothing chroots, and owner names are never asked of
``pwd``/``grp``/NSS (which would load the container's ``libnss_*.so`` into a root process,
CVE-2019-14271): they come from the root's ``/etc/passwd`` and ``/etc/group`` read as
data (:class:`OwnerNames`), or stay numeric.

The container may be running and hostile while we read: each entry is opened
``O_PATH | O_NOFOLLOW`` and its type checked on the open fd before anything is read; a
regular file is re-opened through that fd (never a FIFO or device swapped in by name); a
file that shrinks is padded with zeros and one that grows is cut, so the tar stays valid.

Shapes follow Docker: directories recurse without following symlinks; hard links inside
the tree become link entries; sockets are skipped; ``security.capability`` is the one
extended attribute kept. :func:`stat_beneath` gives ``X-Docker-Container-Path-Stat``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Iterator
from typing import Protocol, TypedDict

from engine.fs.resolve import (
    open_beneath,
    proc_fd_path,
    read_small_file_beneath,
    resolve_parent_beneath,
)
from engine.runtime.users import parse_group, parse_passwd

MAX_ACCOUNT_FILE = 1 << 20
"""Bytes of /etc/passwd or /etc/group read; a larger file gives numeric owners only."""
MAX_DEPTH = 256
_CHUNK = 1 << 20
_RECORD = 20 * tarfile.BLOCKSIZE
_CAPABILITY = "security.capability"
_GO_TYPE_BITS = (
    (stat.S_ISDIR, 1 << 31),
    (stat.S_ISLNK, 1 << 27),
    (stat.S_ISFIFO, 1 << 25),
    (stat.S_ISSOCK, 1 << 24),
    (stat.S_ISCHR, (1 << 26) | (1 << 21)),
    (stat.S_ISBLK, 1 << 26),
)


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class PathStat(TypedDict):
    """Docker's ``X-Docker-Container-Path-Stat`` (base64 of this as JSON)."""

    name: str
    size: int
    mode: int
    mtime: str
    linkTarget: str


def go_mode(mode: int) -> int:
    """``st_mode`` as Go's ``os.FileMode`` bits (directory = 1 << 31, symlink = 1 << 27)."""
    bits = mode & 0o777
    for test, bit in _GO_TYPE_BITS:
        if test(mode):
            bits |= bit
    if mode & stat.S_ISUID:
        bits |= 1 << 23
    if mode & stat.S_ISGID:
        bits |= 1 << 22
    if mode & stat.S_ISVTX:
        bits |= 1 << 20
    return bits


@dataclasses.dataclass(frozen=True, slots=True)
class OwnerNames:
    """uid -> user name and gid -> group name, as a container's files say."""

    users: dict[int, str] = dataclasses.field(default_factory=dict)
    groups: dict[int, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_root(cls, root_fd: int) -> OwnerNames:
        """Read ``/etc/passwd`` and ``/etc/group`` beneath ``root_fd`` as data (missing,
        not regular, or over :data:`MAX_ACCOUNT_FILE`: no names)."""
        users: dict[int, str] = {}
        for user in parse_passwd(_read_account_file(root_fd, "/etc/passwd")):
            users.setdefault(user.uid, user.name)
        groups: dict[int, str] = {}
        for group in parse_group(_read_account_file(root_fd, "/etc/group")):
            groups.setdefault(group.gid, group.name)
        return cls(users, groups)


def _read_account_file(root_fd: int, path: str) -> str:
    return read_small_file_beneath(root_fd, path, MAX_ACCOUNT_FILE)


def _normalize(path: str) -> str:
    """``path`` made absolute and cleaned lexically (as Docker's ``filepath.Clean``)."""
    cleaned = posixpath.normpath("/" + path)
    return "/" + cleaned.lstrip("/")


def _describe(name: str, st: os.stat_result, link: str) -> PathStat:
    return {
        "name": name,
        "size": st.st_size,
        "mode": go_mode(st.st_mode),
        "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
        "linkTarget": link,
    }


def stat_beneath(root_fd: int, path: str) -> PathStat:
    """What ``docker cp`` stats: ``path`` in the root, its last component not followed.

    Error handling: ``FileNotFoundError``; ``NotADirectoryError`` when ``path`` ends with
    ``/`` and is not a directory (or a link to one).
    """
    target = _normalize(path)
    if path.endswith("/") and target != "/":
        os.close(open_beneath(root_fd, target, os.O_PATH | os.O_DIRECTORY))
    if target == "/":
        return _describe("/", os.stat(proc_fd_path(root_fd)), "")
    dir_fd, name = resolve_parent_beneath(root_fd, target)
    try:
        # one fd for the kind and the target: the name may change kind in between
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        link = os.readlink("", dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
    finally:
        os.close(fd)
    return _describe(name, st, link)


@dataclasses.dataclass(slots=True)
class _Walker:
    names: OwnerNames
    seen_inodes: dict[tuple[int, int], str] = dataclasses.field(default_factory=dict)

    def header(self, arcname: str, st: os.stat_result) -> tarfile.TarInfo:
        info = tarfile.TarInfo(arcname)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = self.names.users.get(st.st_uid, "")
        info.gname = self.names.groups.get(st.st_gid, "")
        info.mtime = int(st.st_mtime)
        return info

    def entry(self, dir_fd: int, name: str, arcname: str) -> Iterator[bytes | int]:
        """The tar bytes of one entry; an int ``fd`` when it is a directory to recurse into
        (the caller owns it)."""
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            return  # removed while we walked
        try:
            st = os.fstat(fd)
            info = self.header(arcname, st)
            mode = st.st_mode
            if stat.S_ISREG(mode):
                yield from self.regular(fd, st, info)
                return
            if stat.S_ISDIR(mode):
                info.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink("", dir_fd=fd)  # the name may be a file by now
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(mode):
                info.type = tarfile.FIFOTYPE
            else:
                return  # a socket: not something a tar holds (as Docker)
            yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            if stat.S_ISDIR(mode):
                try:
                    directory = os.open(
                        proc_fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                    )
                except OSError as exc:
                    if exc.errno not in (errno.ENOENT, errno.EACCES):
                        raise
                    return
                yield directory
        finally:
            os.close(fd)

    def regular(self, fd: int, st: os.stat_result, info: tarfile.TarInfo) -> Iterator[bytes]:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.seen_inodes.get(key)
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
                yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
                return
            self.seen_inodes[key] = info.name
        with contextlib.suppress(OSError):  # no capability, or no xattrs on this fs
            capability = os.getxattr(proc_fd_path(fd), _CAPABILITY)
            info.pax_headers = {
                "SCHILY.xattr." + _CAPABILITY: capability.decode("utf-8", "surrogateescape")
            }
        reader = os.open(proc_fd_path(fd), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            info.size = st.st_size
            yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            remaining = st.st_size
            while remaining:
                chunk = os.read(reader, min(remaining, _CHUNK))
                if not chunk:  # the file shrank while we read: pad, the header is written
                    chunk = bytes(min(remaining, _CHUNK))
                remaining -= len(chunk)
                yield chunk
            if st.st_size % tarfile.BLOCKSIZE:
                yield bytes(tarfile.BLOCKSIZE - st.st_size % tarfile.BLOCKSIZE)
        finally:
            os.close(reader)


def _split(path: str) -> tuple[str, str]:
    """(the path whose entry comes first, its name in the tar) for ``docker cp``'s source
    forms: ``dir/.`` is the directory's contents under ``.``, else the entry's base name."""
    raw = path.rstrip("/") or "/"
    if raw.endswith("/.") or raw == ".":
        return _normalize(raw[:-1]), "."
    target = _normalize(raw)
    return target, posixpath.basename(target) or "."


def iter_tar(
    root_fd: int, path: str, *, arcname: str | None = None, names: OwnerNames | None = None
) -> Iterator[bytes]:
    """The tar (PAX format) of ``path`` beneath ``root_fd``, in chunks. Blocking.

    ``arcname`` is the top entry's name (default: ``docker cp``'s, see :func:`_split`); an
    empty ``arcname`` leaves the top entry out and names its children without a prefix
    (``export``). ``names`` defaults to :meth:`OwnerNames.from_root`.

    Error handling: ``FileNotFoundError`` / ``NotADirectoryError`` for a missing top path
    (raised by the first ``next()``, before any byte); ``OSError`` for a failure while reading.
    """
    target, default_name = _split(path)
    top_name = default_name if arcname is None else arcname
    walker = _Walker(names if names is not None else OwnerNames.from_root(root_fd))
    if target == "/":
        parent_fd = open_beneath(root_fd, "/", os.O_PATH | os.O_DIRECTORY)
        name = "."
    else:
        parent_fd, name = resolve_parent_beneath(root_fd, target)
    written = 0
    try:
        os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        stack: list[tuple[int, str, list[str]]] = []  # (dir fd, its arcname, names left)
        if top_name:
            for piece in walker.entry(parent_fd, name, top_name):
                if isinstance(piece, int):
                    stack.append((piece, top_name, sorted(os.listdir(piece), reverse=True)))
                else:
                    written += len(piece)
                    yield piece
        else:
            directory = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd
            )
            stack.append((directory, "", sorted(os.listdir(directory), reverse=True)))
        try:
            while stack:
                dir_fd, prefix, pending = stack[-1]
                if not pending:
                    os.close(dir_fd)
                    stack.pop()
                    continue
                child = pending.pop()
                child_name = f"{prefix}/{child}" if prefix else child
                for piece in walker.entry(dir_fd, child, child_name):
                    if isinstance(piece, int):
                        if len(stack) >= MAX_DEPTH:
                            os.close(piece)
                            raise OSError(
                                errno.ELOOP, f"the tree is deeper than {MAX_DEPTH}", child_name
                            )
                        stack.append((piece, child_name, sorted(os.listdir(piece), reverse=True)))
                    else:
                        written += len(piece)
                        yield piece
        finally:
            for dir_fd, _, _ in stack:
                os.close(dir_fd)
    finally:
        os.close(parent_fd)
    end = 2 * tarfile.BLOCKSIZE
    end += (-(written + end)) % _RECORD
    yield bytes(end)


def write_tar(
    root_fd: int,
    path: str,
    out: Writable,
    *,
    arcname: str | None = None,
    names: OwnerNames | None = None,
) -> None:
    """:func:`iter_tar` written to ``out``. Blocking."""
    for chunk in iter_tar(root_fd, path, arcname=arcname, names=names):
        out.write(chunk)
