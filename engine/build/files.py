"""File work of a build step, inside a mounted root (blocking: run in a thread).

- ``resolve_in_root``: a path inside an image root, symlinks followed *within* the root
  (an absolute link target restarts at the root, ``..`` stops at it), as Docker's
  ``FollowSymlinkInScope``.
- ``copy_tree`` / ``copy_file``: COPY/ADD of one source with owner and mode.
- ``parse_chown`` / ``parse_chmod``: the ``--chown`` / ``--chmod`` values.
- ``write_layer``: an overlay upper dir -> a gzip tar layer (``.wh.`` whiteouts for the
  0/0 character devices, ``.wh..wh..opq`` for opaque directories), written into the blob
  store while the uncompressed digest (the diff ID) is computed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

from engine.build.dockerfile import DockerfileError
from engine.images.store import BlobStore
from engine.runtime.users import parse_group, parse_passwd

OPAQUE_XATTR = "trusted.overlay.opaque"
_MAX_LINKS = 255


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """``path`` (absolute inside the image) as a host path under ``root``."""
    pending = _components(path)
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if (pending or follow_last) and candidate.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                raise OSError(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = _components(target) + pending
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


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
        try:
            return resolve_in_root(root, name).read_text()
        except OSError:
            return ""

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


def make_dirs(path: Path, root: Path, owner: Owner | None) -> None:
    """``mkdir -p`` inside the root; new directories are 0755, owned by ``owner`` or root."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != root:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        os.mkdir(directory, 0o755)
        os.chmod(directory, 0o755)
        if owner is not None:
            os.lchown(directory, owner.uid, owner.gid)


def _clear(path: Path, keep_dir: bool) -> bool:
    """Remove what is at ``path`` (keeping a directory when ``keep_dir``); True if a dir stays."""
    if not os.path.lexists(path):
        return False
    if path.is_dir() and not path.is_symlink():
        if keep_dir:
            return True
        shutil.rmtree(path)
    else:
        path.unlink()
    return False


def copy_file(
    source: Path,
    target: Path,
    *,
    owner: Owner | None,
    mode: int | None,
    preserve_owner: bool = False,
) -> None:
    """Copy one non-directory entry (file, symlink, fifo...) to ``target``."""
    info = source.lstat()
    _clear(target, keep_dir=False)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISREG(info.st_mode):
        with source.open("rb") as reader:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
    elif stat.S_ISFIFO(info.st_mode):
        os.mkfifo(target, 0o600)
    else:
        os.mknod(target, info.st_mode, info.st_rdev)
    _set_attributes(target, info, owner, mode, preserve_owner)


def _set_attributes(
    target: Path, info: os.stat_result, owner: Owner | None, mode: int | None, preserve: bool
) -> None:
    if owner is not None:
        os.lchown(target, owner.uid, owner.gid)
    elif preserve:
        os.lchown(target, info.st_uid, info.st_gid)
    else:
        os.lchown(target, 0, 0)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(target, mode if mode is not None else stat.S_IMODE(info.st_mode))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def copy_tree(
    source: Path,
    target: Path,
    *,
    owner: Owner | None,
    mode: int | None,
    preserve_owner: bool = False,
    include: Callable[[Path], bool] | None = None,
) -> None:
    """Copy the *contents* of the directory ``source`` into the directory ``target``.

    ``include(path)`` filters entries (the context's .dockerignore); a directory that is
    itself excluded is still walked, for exceptions inside it.
    """
    for name in sorted(os.listdir(source)):
        child = source / name
        destination = target / name
        info = child.lstat()
        if stat.S_ISDIR(info.st_mode):
            wanted = include is None or include(child)
            if not _clear(destination, keep_dir=True):
                os.mkdir(destination, 0o755)
            copy_tree(
                child,
                destination,
                owner=owner,
                mode=mode,
                preserve_owner=preserve_owner,
                include=include,
            )
            if not wanted and not os.listdir(destination):
                os.rmdir(destination)
                continue
            _set_attributes(destination, info, owner, mode, preserve_owner)
        elif include is None or include(child):
            copy_file(child, destination, owner=owner, mode=mode, preserve_owner=preserve_owner)


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


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _add_tree(tar: tarfile.TarFile, upper: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        relative_dir = os.path.relpath(dirpath, upper)
        prefix = "" if relative_dir == "." else relative_dir + "/"
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                whiteout = tarfile.TarInfo(prefix + ".wh." + name)
                whiteout.mtime = int(info.st_mtime)
                tar.addfile(whiteout)
                continue
            member = tar.gettarinfo(path, arcname=prefix + name)
            if member is None:  # a socket: not something a layer can hold (as Docker)
                continue
            member.uname = member.gname = ""
            headers = _xattrs(path)
            if headers:
                member.pax_headers = headers
            if member.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(member, handle)
            else:
                tar.addfile(member)
            if stat.S_ISDIR(info.st_mode):
                try:
                    opaque = os.getxattr(path, OPAQUE_XATTR) == b"y"
                except OSError:
                    opaque = False
                if opaque:
                    marker = tarfile.TarInfo(prefix + name + "/.wh..wh..opq")
                    marker.mtime = int(info.st_mtime)
                    tar.addfile(marker)


def write_layer(upper: Path, blobs: BlobStore) -> tuple[str, str, int]:
    """Tar + gzip ``upper`` into the blob store; (blob digest, diff ID, blob size)."""
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
            _add_tree(tar, upper)
        compressed.close()
        size = ingest.size
        digest = ingest.commit()
    return digest, "sha256:" + tee.hash.hexdigest(), size
