"""File work of a build step, inside a mounted root (blocking: run in a thread).

Everything a step writes is written beneath the root of the layer being built: the root
is opened as a directory fd and every path in it resolved by :mod:`engine.fs.resolve`
(``openat2`` with ``RESOLVE_IN_ROOT``: the image's symlinks are followed *within* the
root, an absolute target restarts at it, ``..`` stops at it). Files are then made and
their owner, mode and times set by ``*at`` calls on the parent's fd that never follow the
last component, or on the fd of what was just made.

- ``resolve_in_root``: a path inside an image root as a host path (for what a step
  *reads*: COPY sources in the context or a stage), as Docker's ``FollowSymlinkInScope``.
- ``make_dirs`` / ``make_dirs_beneath``: ``mkdir -p`` beneath the root, new directories
  0755 with the ``--chown`` owner.
- ``copy_tree`` / ``copy_file``: COPY/ADD of one source into a directory fd.
- ``parse_chown`` / ``parse_chmod``: the ``--chown`` / ``--chmod`` values.
- ``write_layer``: an overlay upper dir -> a gzip tar layer (``.wh.`` whiteouts for the
  0/0 character devices, ``.wh..wh..opq`` for opaque directories), written into the blob
  store while the uncompressed digest (the diff ID) is computed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gzip
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

from engine.build.dockerfile import DockerfileError
from engine.fs import open_beneath, resolve_parent_beneath
from engine.fs.resolve import MAX_SYMLINKS, proc_fd_path, read_small_file_beneath
from engine.images.store import BlobStore
from engine.runtime.users import parse_group, parse_passwd

OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_XATTRS = 64  # per entry, of a hostile upper dir
MAX_ACCOUNT_FILE = 1 << 20
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


@contextlib.contextmanager
def open_root(root: Path) -> Iterator[int]:
    """An ``O_PATH`` fd of ``root`` (a directory the engine mounted or made)."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def _host_path(root: Path, root_fd: int, fd: int) -> Path:
    """The host path of ``fd`` (an object beneath ``root_fd``), spelled under ``root``."""
    real_root = os.readlink(proc_fd_path(root_fd))
    relative = os.path.relpath(os.readlink(proc_fd_path(fd)), real_root)
    return root if relative == "." else root / relative


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """``path`` (absolute inside the image) as a host path under ``root``, resolved beneath
    it by :func:`engine.fs.open_beneath`. A dangling last symlink is followed as far as it
    goes (its target spelled under ``root``); a missing parent leaves the rest of the path
    as written.

    Error handling: ``OSError(ELOOP)`` ("too many levels of symbolic links") for a loop.
    """
    with open_root(root) as root_fd:
        for _ in range(MAX_SYMLINKS):
            parts = _components(path)
            if follow_last:
                try:
                    fd = open_beneath(root_fd, "/".join(parts), os.O_PATH)
                except (FileNotFoundError, NotADirectoryError):
                    pass
                else:
                    try:
                        return _host_path(root, root_fd, fd)
                    finally:
                        os.close(fd)
            if not parts:
                return root
            try:
                dir_fd, name = resolve_parent_beneath(root_fd, "/".join(parts))
            except (FileNotFoundError, NotADirectoryError):
                return root.joinpath(*[p for p in parts if p != ".."])
            try:
                parent = _host_path(root, root_fd, dir_fd)
                link = _read_link(dir_fd, name) if follow_last else None
            finally:
                os.close(dir_fd)
            if link is None:
                return parent / name
            # a dangling symlink: follow its target inside the root
            inside = "/" + os.path.relpath(parent, root)
            path = link if link.startswith("/") else posixpath.join(inside, link)
    raise OSError(errno.ELOOP, f"too many levels of symbolic links in {path}", path)


def _read_link(dir_fd: int, name: str) -> str | None:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None


def exists_beneath(root: Path, path: str) -> bool:
    """Whether ``path`` names something beneath ``root`` (its last component not followed)."""
    try:
        with open_root(root) as root_fd:
            dir_fd, name = resolve_parent_beneath(root_fd, path)
    except OSError:
        return False
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    finally:
        os.close(dir_fd)
    return True


def read_text_beneath(root: Path, path: str, limit: int = MAX_ACCOUNT_FILE) -> str:
    """The regular file ``path`` beneath ``root`` as text ("" when missing, not a regular
    file, or larger than ``limit``); never blocks on a FIFO."""
    try:
        with open_root(root) as root_fd:
            return read_small_file_beneath(root_fd, path, limit)
    except OSError:
        return ""


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    uid: int
    gid: int


def parse_chown(value: str, root: Path, *, line: int, file: str) -> Owner:
    """``user[:group]`` (names or IDs) against the root's /etc/passwd and /etc/group.

    A user without a group gets the same number as group (Docker's rule).
    """
    user, _, group = value.partition(":")

    def read(name: str) -> str:
        return read_text_beneath(root, name)

    def number(name: str, kind: str, path: str, numbers: Callable[[str], dict[str, int]]) -> int:
        if name.isdigit():
            return int(name)
        found = numbers(read(path)).get(name)
        if found is None:
            id_kind = "uid" if kind == "user" else "gid"
            raise DockerfileError(
                f"unable to convert uid/gid chown string to host mapping: can't find {id_kind} "
                f"for {kind} {name}: no such {kind}: {name}",
                line=line,
                file=file,
                hint=f"use a numeric {id_kind} or a {kind} of the image's {path}",
            )
        return found

    def uids(text: str) -> dict[str, int]:
        return {e.name: e.uid for e in reversed(parse_passwd(text))}  # the first entry wins

    def gids(text: str) -> dict[str, int]:
        return {g.name: g.gid for g in reversed(parse_group(text))}

    uid = number(user, "user", "/etc/passwd", uids)
    return Owner(uid, number(group, "group", "/etc/group", gids) if group else uid)


def parse_chmod(value: str, *, line: int, file: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise DockerfileError(
            f"invalid --chmod={value}", line=line, file=file, hint="give an octal mode such as 0755"
        )
    return mode


def _chown_at(dir_fd: int, name: str, owner: Owner | None, info: os.stat_result | None) -> None:
    """Owner of ``name`` in ``dir_fd``, the link itself if it is one: ``owner``, else the
    source's (``info``, COPY --from), else root."""
    if owner is not None:
        uid, gid = owner.uid, owner.gid
    elif info is not None:
        uid, gid = info.st_uid, info.st_gid
    else:
        uid, gid = 0, 0
    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def make_dirs_beneath(root_fd: int, path: str, owner: Owner | None) -> int:
    """``mkdir -p path`` beneath ``root_fd``; an ``O_PATH`` fd of the directory (the caller
    closes it). New directories are 0755, owned by ``owner`` or root; existing ones and the
    symlinks on the way (followed inside the root) are left as they are.

    Error handling: ``OSError`` (ENOTDIR, EEXIST for a dangling symlink, ELOOP).
    """
    parts = _components(path)
    fd = os.dup(root_fd)
    try:
        for index in range(len(parts)):
            prefix = "/".join(parts[: index + 1])
            try:
                next_fd = open_beneath(root_fd, prefix, _DIR_FLAGS)
            except FileNotFoundError:
                dir_fd, name = resolve_parent_beneath(root_fd, prefix)
                try:
                    os.mkdir(name, 0o755, dir_fd=dir_fd)
                    os.chmod(proc_fd_path(dir_fd, name), 0o755)  # no umask; name is a dir
                    _chown_at(dir_fd, name, owner, None)
                    next_fd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
                finally:
                    os.close(dir_fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_dirs(root: Path, path: str, owner: Owner | None) -> None:
    """:func:`make_dirs_beneath` for a root given as a path (WORKDIR, RUN's working dir)."""
    with open_root(root) as root_fd:
        os.close(make_dirs_beneath(root_fd, path, owner))


def _clear(dir_fd: int, name: str, keep_dir: bool) -> bool:
    """Remove ``name`` in ``dir_fd`` (keeping a directory when ``keep_dir``); True if a
    directory stays. Symlinks are removed, never followed."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        if keep_dir:
            return True
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
    return False


def copy_file(
    source: Path,
    dir_fd: int,
    name: str,
    *,
    owner: Owner | None,
    mode: int | None,
    preserve_owner: bool = False,
) -> None:
    """Copy one non-directory entry (file, symlink, fifo...) to ``name`` in ``dir_fd``."""
    info = source.lstat()
    _clear(dir_fd, name, keep_dir=False)
    new_mode = mode if mode is not None else stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), name, dir_fd=dir_fd)
    elif stat.S_ISREG(info.st_mode):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with source.open("rb") as reader:
            fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
                writer.flush()
                _set_attributes(fd, info, owner, new_mode, preserve_owner)
        return
    elif stat.S_ISFIFO(info.st_mode):
        os.mkfifo(name, 0o600, dir_fd=dir_fd)
    else:
        os.mknod(name, info.st_mode, info.st_rdev, dir_fd=dir_fd)
    _chown_at(dir_fd, name, owner, info if preserve_owner else None)
    if not stat.S_ISLNK(info.st_mode):
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            os.chmod(proc_fd_path(fd), new_mode)
        finally:
            os.close(fd)
    os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


def _set_attributes(
    fd: int, info: os.stat_result, owner: Owner | None, mode: int, preserve: bool
) -> None:
    """Owner, mode and times of the open file or directory ``fd`` (chown first: it clears
    setuid bits)."""
    if owner is not None:
        os.fchown(fd, owner.uid, owner.gid)
    elif preserve:
        os.fchown(fd, info.st_uid, info.st_gid)
    else:
        os.fchown(fd, 0, 0)
    os.fchmod(fd, mode)
    os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))


def copy_tree(
    source: Path,
    dir_fd: int,
    *,
    owner: Owner | None,
    mode: int | None,
    preserve_owner: bool = False,
    include: Callable[[Path], bool] | None = None,
) -> None:
    """Copy the *contents* of the directory ``source`` into the directory ``dir_fd``.

    ``include(path)`` filters entries (the context's .dockerignore); a directory that is
    itself excluded is still walked, for exceptions inside it.
    """
    for name in sorted(os.listdir(source)):
        child = source / name
        info = child.lstat()
        if stat.S_ISDIR(info.st_mode):
            wanted = include is None or include(child)
            if not _clear(dir_fd, name, keep_dir=True):
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            inner = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
            )
            try:
                copy_tree(
                    child,
                    inner,
                    owner=owner,
                    mode=mode,
                    preserve_owner=preserve_owner,
                    include=include,
                )
                if not wanted and not os.listdir(inner):
                    os.rmdir(name, dir_fd=dir_fd)
                    continue
                new_mode = mode if mode is not None else stat.S_IMODE(info.st_mode)
                _set_attributes(inner, info, owner, new_mode, preserve_owner)
            finally:
                os.close(inner)
        elif include is None or include(child):
            copy_file(child, dir_fd, name, owner=owner, mode=mode, preserve_owner=preserve_owner)


# ------------------------------------------------------------------------------------ layers


class _Tee:
    """A write-only file that hashes what passes and hands it on."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.inner.write(data)
        return len(data)


class _IngestWriter:
    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write

    def write(self, data: bytes) -> int:
        self._write(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None


def _xattrs(fd: int) -> dict[str, str]:
    out: dict[str, str] = {}
    path = proc_fd_path(fd)
    try:
        names = os.listxattr(path)
    except OSError:
        return out
    for name in names[:MAX_XATTRS]:
        if name.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(path, name)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


class _Bounded:
    """Exactly ``size`` bytes of ``fd`` (zeros when the file shrank under us: the header
    is already written), never more when it grew."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.remaining = fd, size

    def read(self, wanted: int = -1) -> bytes:
        count = self.remaining if wanted < 0 else min(wanted, self.remaining)
        if count <= 0:
            return b""
        chunk = os.read(self.fd, min(count, 1 << 20)) or bytes(min(count, 1 << 20))
        self.remaining -= len(chunk)
        return chunk


def _member(
    tar: tarfile.TarFile,
    dir_fd: int,
    name: str,
    arcname: str,
    skip: Callable[[str, os.stat_result], bool],
    links: dict[tuple[int, int], str],
) -> bool:
    """One entry of the upper dir, opened beneath its directory without following it (the
    upper dir may be a container's: hostile, and changing while we read)."""
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    try:
        info_stat = os.fstat(fd)
        mode = info_stat.st_mode
        if skip(arcname, info_stat):
            return False
        if stat.S_ISCHR(mode) and info_stat.st_rdev == 0:
            directory, _, base = arcname.rpartition("/")
            whiteout = tarfile.TarInfo((directory + "/" if directory else "") + ".wh." + base)
            whiteout.mtime = int(info_stat.st_mtime)
            tar.addfile(whiteout)
            return True
        member = tarfile.TarInfo(arcname)
        member.mode = stat.S_IMODE(mode)
        member.uid, member.gid = info_stat.st_uid, info_stat.st_gid
        member.mtime = int(info_stat.st_mtime)
        if stat.S_ISDIR(mode):
            member.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            member.type = tarfile.SYMTYPE
            # the link fd itself, not the name: the name may be a file by now
            member.linkname = os.readlink("", dir_fd=fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            member.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            member.devmajor, member.devminor = (
                os.major(info_stat.st_rdev),
                os.minor(info_stat.st_rdev),
            )
        elif stat.S_ISFIFO(mode):
            member.type = tarfile.FIFOTYPE
        elif not stat.S_ISREG(mode):
            return False  # a socket: not something a layer can hold (as Docker)
        if not stat.S_ISLNK(mode):
            headers = _xattrs(fd)
            if headers:
                member.pax_headers = headers
        key = (info_stat.st_dev, info_stat.st_ino)
        if stat.S_ISREG(mode) and info_stat.st_nlink > 1 and key in links:
            member.type = tarfile.LNKTYPE
            member.linkname = links[key]
            tar.addfile(member)
        elif stat.S_ISREG(mode):
            if info_stat.st_nlink > 1:
                links[key] = arcname
            member.size = info_stat.st_size
            reader = os.open(proc_fd_path(fd), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
            try:
                tar.addfile(member, cast(IO[bytes], _Bounded(reader, member.size)))
            finally:
                os.close(reader)
        else:
            tar.addfile(member)
        if stat.S_ISDIR(mode):
            try:
                opaque = os.getxattr(proc_fd_path(fd), OPAQUE_XATTR) == b"y"
            except OSError:
                opaque = False
            if opaque:
                marker = tarfile.TarInfo(arcname + "/.wh..wh..opq")
                marker.mtime = int(info_stat.st_mtime)
                tar.addfile(marker)
        return True
    finally:
        os.close(fd)


def _never(arcname: str, info: os.stat_result) -> bool:
    return False


def _add_tree(
    tar: tarfile.TarFile, upper: Path, skip: Callable[[str, os.stat_result], bool] = _never
) -> None:
    # fwalk opens each directory by name beneath its parent's fd and checks it is the one
    # it lstat'ed: a directory swapped for a symlink meanwhile is not followed
    links: dict[tuple[int, int], str] = {}  # hard links: the first name of each inode
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(upper, follow_symlinks=False):
        relative_dir = os.path.relpath(dirpath, upper)
        prefix = "" if relative_dir == "." else relative_dir + "/"
        for name in sorted(dirnames + filenames):
            if not _member(tar, dir_fd, name, prefix + name, skip, links) and name in dirnames:
                dirnames.remove(name)
        dirnames.sort()


def write_layer(
    upper: Path, blobs: BlobStore, skip: Callable[[str, os.stat_result], bool] = _never
) -> tuple[str, str, int]:
    """Tar + gzip ``upper`` into the blob store; (blob digest, diff ID, blob size).
    ``skip(name, stat)``: entries (and their subtrees) left out."""
    with blobs.ingest() as ingest:
        compressed = gzip.GzipFile(
            fileobj=cast(IO[bytes], _IngestWriter(ingest.write)),
            mode="wb",
            mtime=0,
            compresslevel=6,
        )
        tee = _Tee(compressed)
        with tarfile.open(
            fileobj=cast(IO[bytes], tee), mode="w|", format=tarfile.PAX_FORMAT
        ) as tar:
            _add_tree(tar, upper, skip)
        compressed.close()
        size = ingest.size
        digest = ingest.commit()
    return digest, "sha256:" + tee.hash.hexdigest(), size
