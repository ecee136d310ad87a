"""Extract a tar into a directory: the one routine for every tar the engine reads.

Build contexts, ``ADD`` of a local archive, image layers, ``images/load`` and ``cp`` into a
container all come here. The archive is hostile; the destination may be too (a running
container can change its own files while we write). So:

1. Every member is placed *beneath* the destination fd (:mod:`engine.fs.resolve`): a
   leading ``/`` means the destination; a name whose ``..`` would climb above it is
   refused; symlinks met on the way (extracted earlier, or already there) are followed
   inside the destination only.
2. Every write, ``mkdir``, ``symlink``, ``link``, ``mknod``, ``chown``, ``chmod``, xattr and
   ``utime`` is made through a directory fd with an ``*at`` call that does not follow the
   last component, or through an fd of the object just made: nothing is done by a path
   that another process could swap for a symlink.
3. What is in the way of a member is removed first (a directory is kept when the member
   is one too, and its attributes updated); missing parents are made, mode 0755.
4. A hard link may only point at something already beneath the destination (same rules
   as names); its attributes are its target's.
5. Extended attributes from the archive: ``user.*``, ``security.capability`` (file
   capabilities, as Docker keeps them) and POSIX ACLs are set; ``security.selinux`` is
   dropped (labels are the host's business); every other ``security.*``, all ``trusted.*``
   (overlayfs reads those) and anything else refuses the archive.
6. Limits (:class:`~engine.fs.tar_reader.Limits`) are checked against what headers declare,
   before the bytes are read.

Options (:class:`ExtractOptions`): ``layer`` turns OCI whiteouts into overlayfs ones
(``.wh.NAME`` → a 0/0 character device ``NAME``; ``.wh..wh..opq`` → the directory's
``trusted.overlay.opaque=y``, set by us) and applies the root entry's attributes to the
destination; ``owner`` keeps the archive's ids, gives every entry one uid:gid, or leaves
the extracting process's; ``no_devices`` refuses device nodes; ``no_overwrite_dir_non_dir``
refuses a member that would replace a directory by a non-directory or the reverse (the
``noOverwriteDirNonDir`` of ``docker cp``).

Error handling: :class:`ArchiveError` (naming the member) for everything the archive
asks that is wrong or impossible; ``OSError`` only for the host's own failures (ENOSPC,
EIO, EMFILE...), which the caller reports as internal.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Literal

from engine.fs.errors import ArchiveError, EscapingEntry
from engine.fs.resolve import mkdirs_beneath, open_beneath, proc_fd_path, resolve_parent_beneath
from engine.fs.tar_reader import (
    BLOCK_DEVICE,
    CHAR_DEVICE,
    DIRECTORY,
    FIFO,
    HARD_LINK,
    REGULAR,
    SYMLINK,
    Limits,
    Member,
    Readable,
    TarReader,
    open_decompressed,
)

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"

Ownership = Literal["preserve", "none"] | tuple[int, int]

_KEPT_XATTRS = ("user.", "security.capability", "system.posix_acl_access")
_KEPT_XATTRS_DIR = ("system.posix_acl_default",)
_DROPPED_XATTRS = ("security.selinux",)
_DIR_CACHE = 128
# errors caused by what the archive asks (not by the host): the archive is refused
_ARCHIVE_ERRNOS = {
    errno.EPERM,
    errno.EEXIST,
    errno.EINVAL,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.ELOOP,
    errno.EMLINK,
    errno.ENAMETOOLONG,
    errno.EXDEV,
    errno.ENOTEMPTY,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ExtractOptions:
    """How to extract. See the module docstring."""

    layer: bool = False
    owner: Ownership = "preserve"
    no_devices: bool = False
    no_overwrite_dir_non_dir: bool = False
    limits: Limits = dataclasses.field(default_factory=Limits)


@dataclasses.dataclass(frozen=True, slots=True)
class ExtractStats:
    entries: int
    bytes_read: int  # decompressed, headers and padding included


def clean_name(name: str, limits: Limits, member: str) -> list[str]:
    """The components of a member name or hard-link target, inside the destination.

    A leading ``/`` is dropped (the destination is the root); ``.`` and empty parts go;
    ``..`` removes the previous component and is refused where it would leave the root.
    """
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise EscapingEntry(f"{name!r} climbs out of the destination with '..'", member)
            parts.pop()
            continue
        parts.append(part)
    if len(parts) > limits.max_depth:
        raise ArchiveError(f"the name is deeper than {limits.max_depth} components", member)
    return parts


def _xattr_allowed(key: str, member: Member) -> bool:
    """True to set it, False to drop it; refuses the archive for the dangerous ones."""
    if key.startswith(_KEPT_XATTRS) or (member.is_dir and key.startswith(_KEPT_XATTRS_DIR)):
        return True
    if key in _DROPPED_XATTRS:
        return False
    raise ArchiveError(
        f"the extended attribute {key!r} is refused (only user.*, security.capability "
        "and POSIX ACLs may come from an archive)",
        member.name,
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Extractor:
    def __init__(self, dest_fd: int, options: ExtractOptions, reader: TarReader) -> None:
        self.dest_fd = dest_fd
        self.options = options
        self.reader = reader
        # parent path -> O_PATH fd; emptied whenever a directory or symlink is removed,
        # the only changes that can alter where a path resolves
        self.dirs: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.dir_times: list[tuple[str, int]] = []

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()

    def forget_dirs_but(self, dir_fd: int) -> None:
        """Close the cached directories except ``dir_fd`` (in use; a child of it is going
        away, which changes where paths through that child resolve, not the dir itself)."""
        for key, fd in list(self.dirs.items()):
            if fd != dir_fd:
                os.close(fd)
                del self.dirs[key]

    def parent(self, parts: list[str]) -> int:
        """An O_PATH fd of the directory that holds ``parts[-1]``, made if missing."""
        key = "/".join(parts[:-1])
        fd = self.dirs.get(key)
        if fd is not None:
            self.dirs.move_to_end(key)
            return fd
        fd = mkdirs_beneath(self.dest_fd, key, 0o755)
        self.dirs[key] = fd
        if len(self.dirs) > _DIR_CACHE:
            os.close(self.dirs.popitem(last=False)[1])
        return fd

    def remove_existing(self, dir_fd: int, name: str, keep_dir: bool) -> bool:
        """Remove what is at ``name``; True if a directory was kept."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if self.options.no_overwrite_dir_non_dir and stat.S_ISDIR(st.st_mode) != keep_dir:
            raise ArchiveError(
                "it would replace a directory by a non-directory or the reverse", name
            )
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            self.forget_dirs_but(dir_fd)
            shutil.rmtree(name, dir_fd=dir_fd)  # fd-based: safe against symlink swaps
        else:
            if stat.S_ISLNK(st.st_mode):
                self.forget_dirs_but(dir_fd)
            os.unlink(name, dir_fd=dir_fd)
        return False

    def owner(self, member: Member) -> tuple[int, int] | None:
        policy = self.options.owner
        if policy == "preserve":
            return member.uid, member.gid
        if policy == "none":
            return None
        return policy

    def extract(self, member: Member) -> None:
        parts = clean_name(member.name, self.options.limits, member.name)
        if not parts:
            self.extract_root(member)
            return
        dir_fd = self.parent(parts)
        name = parts[-1]
        if self.options.layer and name.startswith(WHITEOUT_PREFIX):
            self.whiteout(member, dir_fd, name)
            return
        kept = self.remove_existing(dir_fd, name, keep_dir=member.is_dir)
        kind = member.type
        if kind == REGULAR:
            self.write_file(member, dir_fd, name)
        elif kind == DIRECTORY:
            if not kept:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            fd = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
            )
            try:
                self.set_attributes(member, fd, None)
            finally:
                os.close(fd)
            self.dir_times.append(("/".join(parts), member.mtime_ns))
        elif kind == HARD_LINK:
            self.hard_link(member, dir_fd, name)
        elif kind == SYMLINK:
            os.symlink(member.linkname, name, dir_fd=dir_fd)
            owner = self.owner(member)
            if owner is not None:
                os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)
            for key, value in member.xattrs.items():
                if _xattr_allowed(key, member):
                    os.setxattr(proc_fd_path(dir_fd, name), key, value, follow_symlinks=False)
            mtime = member.mtime_ns
            os.utime(name, ns=(mtime, mtime), dir_fd=dir_fd, follow_symlinks=False)
        else:
            self.special(member, dir_fd, name)

    def extract_root(self, member: Member) -> None:
        """The entry for the destination itself: attributes only, for a layer."""
        if not self.options.layer:
            return
        if not member.is_dir:
            raise ArchiveError("the layer's root is not a directory", member.name)
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.dest_fd)
        try:
            self.set_attributes(member, fd, None)
        finally:
            os.close(fd)
        self.dir_times.append(("", member.mtime_ns))

    def whiteout(self, member: Member, dir_fd: int, name: str) -> None:
        if name == OPAQUE_WHITEOUT:
            os.setxattr(proc_fd_path(dir_fd), OPAQUE_XATTR, b"y")
            return
        if name.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not needed
        hidden = name[len(WHITEOUT_PREFIX) :]
        if hidden in ("", ".", ".."):
            raise EscapingEntry(f"a whiteout of {hidden!r}", member.name)
        self.remove_existing(dir_fd, hidden, keep_dir=False)
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)
        owner = self.owner(member)
        if owner is not None:
            os.chown(hidden, *owner, dir_fd=dir_fd, follow_symlinks=False)

    def write_file(self, member: Member, dir_fd: int, name: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        try:
            for chunk in self.reader.data():
                _write_all(fd, chunk)
            self.set_attributes(member, fd, None)
            os.utime(fd, ns=(member.mtime_ns, member.mtime_ns))
        finally:
            os.close(fd)

    def hard_link(self, member: Member, dir_fd: int, name: str) -> None:
        target = clean_name(member.linkname, self.options.limits, member.name)
        if not target:
            raise ArchiveError("a hard link to the destination itself", member.name)
        try:
            source_fd, source_name = resolve_parent_beneath(self.dest_fd, "/".join(target))
        except FileNotFoundError:
            source_fd = -1
        try:
            if source_fd < 0 or not _exists(source_fd, source_name):
                raise ArchiveError(
                    f"a hard link to {member.linkname!r}, which is not in the destination",
                    member.name,
                )
            os.link(
                source_name, name, src_dir_fd=source_fd, dst_dir_fd=dir_fd, follow_symlinks=False
            )
        finally:
            if source_fd >= 0:
                os.close(source_fd)

    def special(self, member: Member, dir_fd: int, name: str) -> None:
        if member.type in (CHAR_DEVICE, BLOCK_DEVICE):
            if self.options.no_devices:
                raise ArchiveError("device nodes are refused here", member.name)
            kind = stat.S_IFCHR if member.type == CHAR_DEVICE else stat.S_IFBLK
            os.mknod(
                name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=dir_fd
            )
        elif member.type == FIFO:
            os.mkfifo(name, 0o600, dir_fd=dir_fd)
        else:
            raise ArchiveError(f"the entry type {member.type!r} is not supported", member.name)
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            self.set_attributes(member, fd, proc_fd_path(fd))
            os.utime(proc_fd_path(fd), ns=(member.mtime_ns, member.mtime_ns))
        finally:
            os.close(fd)

    def set_attributes(self, member: Member, fd: int, opath: str | None) -> None:
        """Owner, then xattrs (chown clears file capabilities), then mode (chown clears
        setuid). ``opath`` names an O_PATH ``fd`` (devices, fifos), which has no f* calls."""
        owner = self.owner(member)
        if owner is not None:
            if opath is None:
                os.fchown(fd, *owner)
            else:
                os.chown(opath, *owner)
        for key, value in member.xattrs.items():
            if not _xattr_allowed(key, member):
                continue
            try:
                os.setxattr(opath if opath is not None else fd, key, value)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EPERM) or key.startswith("user."):
                    raise
        if opath is None:
            os.fchmod(fd, member.mode)
        else:
            os.chmod(opath, member.mode)

    def finish(self) -> None:
        """Directory mtimes, deepest last made first, once nothing more is written in them."""
        for path, mtime in reversed(self.dir_times):
            if not path:
                os.utime(proc_fd_path(self.dest_fd), ns=(mtime, mtime))
                continue
            try:
                dir_fd, name = resolve_parent_beneath(self.dest_fd, path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                os.utime(name, ns=(mtime, mtime), dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            finally:
                os.close(dir_fd)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def extract_tar(
    source: Readable,
    dest_fd: int,
    options: ExtractOptions | None = None,
    *,
    decompress: bool = True,
) -> ExtractStats:
    """Extract the tar read from ``source`` beneath the directory ``dest_fd``. Blocking.

    ``source`` is read forward only; with ``decompress`` (the default) gzip, zstd, bzip2
    and xz are recognised by their magic bytes. The stream is read to its end, also past
    the end-of-archive marker (counted against the limit), so a caller hashing it sees
    every byte.

    Error handling: :class:`ArchiveError` naming the member for a broken, oversized or
    refused archive; ``OSError`` for a failure of the host (disk full, I/O error).
    What was extracted before an error stays: the caller removes it if it must.
    """
    options = options or ExtractOptions()
    stream = open_decompressed(source) if decompress else source
    reader = TarReader(stream, options.limits)
    extractor = _Extractor(dest_fd, options, reader)
    entries = 0
    try:
        for member in reader:
            entries += 1
            try:
                extractor.extract(member)
            except OSError as exc:
                if exc.errno not in _ARCHIVE_ERRNOS:
                    raise
                raise ArchiveError(f"cannot extract it: {exc.strerror}", member.name) from exc
        extractor.finish()
        reader.drain()
    finally:
        extractor.close()
    return ExtractStats(entries, reader.consumed)


def extract_tar_into(
    source: Readable, dest: Path, options: ExtractOptions | None = None, *, decompress: bool = True
) -> ExtractStats:
    """:func:`extract_tar` into the directory ``dest``, a path the engine trusts (its own
    temp or layer directory). For a directory inside a container, resolve it with
    :func:`~engine.fs.resolve.open_beneath` on the container's root and pass the fd."""
    fd = os.open(dest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return extract_tar(source, fd, options, decompress=decompress)
    finally:
        os.close(fd)


def open_dir_beneath(root_fd: int, path: str) -> int:
    """An O_PATH fd of the directory ``path`` beneath ``root_fd`` (``cp`` into a container:
    the destination directory, its symlinks followed inside the container's root)."""
    return open_beneath(root_fd, path, os.O_PATH | os.O_DIRECTORY)
