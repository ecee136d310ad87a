"""Unpack a layer blob into its own directory, keyed by chain ID. Blocking: run in a thread.

Lifecycle: ``unpack_layer`` decompresses (gzip, zstd or none, told by the magic bytes)
and streams the tar into ``layers/.unpack-*/diff``, hashing the uncompressed bytes;
when the diff ID matches, the temp dir is renamed to ``layers/<chain-hex>`` (atomic)
and a short link ``l/<chain-hex[:12]>`` is made for overlay's ``lowerdir``. On any
error the temp dir is removed: nothing half-unpacked is ever visible.

Rules, in the order they are checked for each entry:

1. Names are relative: an absolute name, or one with a ``..`` component, is refused
   (:class:`UnsafeLayer`). ``./`` prefixes are dropped; ``.`` is the layer root.
2. No entry is written through a symlink: every parent component must be a real
   directory inside the layer (missing ones are made, mode 0755); a symlink or file
   in the way is refused. Hard-link targets obey the same rules.
3. ``.wh..wh..opq`` marks its directory opaque (xattr ``trusted.overlay.opaque=y``);
   ``.wh.NAME`` becomes an overlay whiteout: a 0/0 character device ``NAME``.
4. Everything else is made as it is in the tar: files, dirs, hard links, symlinks,
   char/block devices, fifos; then owner, mode (incl. setuid/sticky), xattrs
   (PAX ``SCHILY.xattr.*``) and mtime. Directory mtimes are set last.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import zlib
from pathlib import Path
from typing import IO, Any

import zstandard

from engine.errors import EngineInternal
from engine.images.errors import DigestMismatch, InvalidImage, UnsafeLayer
from engine.images.store import check_digest

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
SHORT_LINK_LENGTH = 12
_COPY_BUFFER = 1 << 18
# errors that come from what the layer asks for (not from the host): a broken layer
_ENTRY_ERRNOS = {
    errno.EPERM,
    errno.EEXIST,
    errno.EINVAL,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.EMLINK,
    errno.ENAMETOOLONG,
}


class _HashingReader:
    """A read-only file object that hashes what passes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.hash.update(data)
        return data

    def drain(self) -> None:
        while self.read(_COPY_BUFFER):
            pass


def open_decompressed(raw: IO[bytes]) -> IO[bytes]:
    """Wrap ``raw`` (seekable) in the decompressor its magic bytes call for."""
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if magic == b"\x28\xb5\x2f\xfd":
        reader: Any = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return reader  # type: ignore[no-any-return]
    return raw


def layer_dir(layers_root: Path, chain_id: str) -> Path:
    return layers_root / check_digest(chain_id)


def short_link(links_root: Path, chain_id: str) -> Path:
    return links_root / check_digest(chain_id)[:SHORT_LINK_LENGTH]


class FeedAborted(Exception):
    """The writer of a :class:`GrowingFile` gave up; the reader stops (not a user error)."""


class GrowingFile:
    """Reads a file that another task is still writing (unpack while downloading).

    The writer calls ``advance(size)`` after each write, then ``finish()`` once the
    blob is verified and committed, or ``fail()``. ``read`` blocks (in its worker
    thread) until there are bytes, and returns b"" only after ``finish()``: so a
    layer is never complete before its blob verified.
    """

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb", buffering=0)
        self._cond = threading.Condition()
        self._size = 0
        self._pos = 0
        self._done = False
        self._failed = False

    def advance(self, size: int) -> None:
        with self._cond:
            self._size = size
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while True:
                if self._failed:
                    raise FeedAborted("the download of this layer failed")
                available = self._size - self._pos
                if available > 0 or self._done:
                    break
                self._cond.wait()
        if available <= 0:
            return b""
        data = self._file.read(available if size < 0 else min(size, available))
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError("GrowingFile supports absolute seeks only")
        self._pos = self._file.seek(offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> GrowingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unpack_layer(
    blob: Path | GrowingFile, layers_root: Path, links_root: Path, chain_id: str, diff_id: str
) -> Path:
    """Unpack ``blob`` (a file, or one still being written) as the layer ``chain_id``;
    return ``layers/<chain-hex>``.

    Error handling: :class:`UnsafeLayer` for entries escaping the root,
    :class:`DigestMismatch` when the uncompressed tar is not ``diff_id``,
    :class:`InvalidImage` for a broken archive. The partial directory is removed.
    """
    final = layer_dir(layers_root, chain_id)
    link = short_link(links_root, chain_id)
    if final.is_dir():
        _ensure_link(link, final)
        return final
    layers_root.mkdir(parents=True, exist_ok=True)
    links_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=layers_root, prefix=".unpack-"))
    try:
        diff = tmp / "diff"
        diff.mkdir(mode=0o755)
        with blob if isinstance(blob, GrowingFile) else blob.open("rb") as raw:
            hashing = _HashingReader(open_decompressed(raw))  # type: ignore[arg-type]
            try:
                apply_tar(hashing, diff)
                hashing.drain()
            except (
                tarfile.TarError,
                EOFError,
                zstandard.ZstdError,
                gzip.BadGzipFile,
                zlib.error,
            ) as exc:
                raise InvalidImage(f"layer {diff_id}: not a valid (compressed) tar: {exc}") from exc
            except OSError as exc:
                if exc.errno is None or exc.errno in _ENTRY_ERRNOS:
                    raise InvalidImage(f"layer {diff_id}: cannot unpack: {exc}") from exc
                raise EngineInternal(f"layer {diff_id}: unpacking failed: {exc}") from exc
        got = "sha256:" + hashing.hash.hexdigest()
        if got != diff_id:
            raise DigestMismatch(
                f"layer {diff_id}: the uncompressed content has digest {got}; "
                "the image config does not match its layers"
            )
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _ensure_link(link, final)
    return final


def _ensure_link(link: Path, final: Path) -> None:
    target = os.path.relpath(final / "diff", link.parent)
    if os.path.islink(link) and os.readlink(link) == target:
        return
    tmp_link = link.with_name(link.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(target, tmp_link)
    os.replace(tmp_link, link)


def _clean_name(name: str, what: str) -> list[str]:
    if name.startswith("/"):
        raise UnsafeLayer(f"layer entry {what}{name!r} has an absolute path; refusing the layer")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer(f"layer entry {what}{name!r} escapes the layer root with '..'; refusing")
    return parts


class _Extractor:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.safe_dirs: set[str] = {""}
        self.dir_times: list[tuple[str, int]] = []

    def parent_dir(self, parts: list[str], name: str) -> str:
        """The host path of the parent of ``parts``, made safe (real dirs only)."""
        rel = ""
        for part in parts[:-1]:
            rel = f"{rel}/{part}" if rel else part
            if rel in self.safe_dirs:
                continue
            path = os.path.join(self.root, rel)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise UnsafeLayer(
                        f"layer entry {name!r} goes through the symlink {rel!r}; refusing the layer"
                    )
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidImage(f"layer entry {name!r}: {rel!r} is not a directory")
            self.safe_dirs.add(rel)
        return os.path.join(self.root, rel) if rel else str(self.root)

    def remove_existing(self, path: str, keep_dir: bool) -> bool:
        """Remove what is at ``path``; return True if a directory was kept."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
            rel = os.path.relpath(path, self.root)
            self.safe_dirs = {d for d in self.safe_dirs if d != rel and not d.startswith(rel + "/")}
        else:
            os.unlink(path)
        return False

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _clean_name(member.name, "")
        if not parts:  # the layer root itself
            if member.isdir():
                self.set_attributes(str(self.root), member)
                self.dir_times.append((str(self.root), _mtime_ns(member)))
            return
        base = parts[-1]
        parent = self.parent_dir(parts, member.name)
        path = os.path.join(parent, base)
        if base == OPAQUE_WHITEOUT:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not needed
        if base.startswith(WHITEOUT_PREFIX):
            hidden = base[len(WHITEOUT_PREFIX) :]
            if hidden in ("", ".", ".."):
                raise UnsafeLayer(f"layer entry {member.name!r} is a whiteout of {hidden!r}")
            path = os.path.join(parent, hidden)
            self.remove_existing(path, keep_dir=False)
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            os.lchown(path, member.uid, member.gid)
            return
        kept_dir = self.remove_existing(path, keep_dir=member.isdir())
        if member.isdir():
            if not kept_dir:
                os.mkdir(path, 0o700)
            self.dir_times.append((path, _mtime_ns(member)))
        elif member.isreg():
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            with os.fdopen(fd, "wb") as out:
                source = tar.extractfile(member)
                if source is not None:
                    shutil.copyfileobj(source, out, _COPY_BUFFER)
        elif member.islnk():
            target_parts = _clean_name(member.linkname, "link target of ")
            if not target_parts:
                raise InvalidImage(f"layer entry {member.name!r}: hard link to the layer root")
            target_parent = self.parent_dir(target_parts, member.linkname)
            target = os.path.join(target_parent, target_parts[-1])
            if not os.path.lexists(target):
                raise InvalidImage(
                    f"layer entry {member.name!r}: hard link to {member.linkname!r}, "
                    "which is not earlier in the layer"
                )
            os.link(target, path, follow_symlinks=False)
            return  # shares the target's inode: attributes are the target's
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidImage(
                f"layer entry {member.name!r} has an unsupported type {member.type!r}"
            )
        self.set_attributes(path, member)

    def set_attributes(self, path: str, member: tarfile.TarInfo) -> None:
        os.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                name = key[len("SCHILY.xattr.") :]
                try:
                    os.setxattr(
                        path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False
                    )
                except OSError:
                    if not name.startswith("security."):
                        raise
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        if not member.isdir():
            mtime = _mtime_ns(member)
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_times):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


def _mtime_ns(member: tarfile.TarInfo) -> int:
    return int(member.mtime * 1_000_000_000)


def apply_tar(stream: Any, root: Path) -> None:
    """Extract the tar read from ``stream`` into ``root`` under the rules above."""
    extractor = _Extractor(root)
    with tarfile.open(fileobj=stream, mode="r|", bufsize=_COPY_BUFFER) as tar:
        for member in tar:
            extractor.extract(tar, member)
    extractor.finish()
