"""Unpack a layer blob into its own directory, keyed by chain ID. Blocking: run in a thread.

Lifecycle: ``unpack_layer`` decompresses (gzip, zstd or none, told by the magic bytes)
and streams the tar into ``layers/.unpack-*/diff``, hashing the uncompressed bytes;
when the diff ID matches, the temp dir is renamed to ``layers/<chain-hex>`` (atomic)
and a short link ``l/<chain-hex[:12]>`` is made for overlay's ``lowerdir``. On any
error the temp dir is removed: nothing half-unpacked is ever visible.

The layer's tar goes through the engine's one extractor (:func:`engine.fs.extract_tar`,
``layer=True``); its rules, in short:

1. Every entry lands beneath the layer's directory: a leading ``/`` means the layer root;
   a name or hard-link target whose ``..`` climbs above it is refused
   (:class:`UnsafeLayer`). Symlinks the layer made earlier are followed *inside* the
   layer's directory (as a chroot would), never out of it.
2. ``.wh..wh..opq`` marks its directory opaque (xattr ``trusted.overlay.opaque=y``);
   ``.wh.NAME`` becomes an overlay whiteout: a 0/0 character device ``NAME``.
3. Everything else is made as it is in the tar: files, dirs, hard links, symlinks,
   char/block devices, fifos; then owner, mode (incl. setuid/sticky), the allowed xattrs
   and mtime. Directory mtimes are set last.
4. Extended attributes from the layer: ``user.*``, ``security.capability`` and POSIX
   ACLs; a layer carrying ``trusted.*`` (which overlayfs would obey: ``trusted.overlay.*``
   redirects and opaque markers) or another ``security.*`` is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from engine.errors import EngineInternal
from engine.fs import ArchiveError, ExtractOptions, extract_tar_into
from engine.fs.errors import EscapingEntry
from engine.fs.tar_reader import Readable, open_decompressed
from engine.images.errors import DigestMismatch, InvalidImage, UnsafeLayer
from engine.images.store import check_digest

SHORT_LINK_LENGTH = 12
_COPY_BUFFER = 1 << 18
_LAYER = ExtractOptions(layer=True, owner="preserve")


class _HashingReader:
    """A read-only file object that hashes what passes through it."""

    def __init__(self, inner: Readable) -> None:
        self._inner = inner
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.hash.update(data)
        return data

    def drain(self) -> None:
        while self.read(_COPY_BUFFER):
            pass


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
            hashing = _HashingReader(open_decompressed(raw))
            apply_tar(hashing, diff, diff_id)
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
    # a name of its own: two builds committing the same layer make the same link at once
    tmp_link = link.with_name(f"{link.name}.{secrets.token_hex(6)}.tmp")
    os.symlink(target, tmp_link)
    try:
        os.replace(tmp_link, link)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            tmp_link.unlink()
        raise


def apply_tar(stream: Readable, root: Path, diff_id: str) -> None:
    """Extract the (decompressed) layer tar read from ``stream`` into ``root`` under the
    rules above, reading ``stream`` to its end.

    Error handling: :class:`UnsafeLayer` for an entry climbing out of the layer,
    :class:`InvalidImage` for a broken or refused layer, :class:`EngineInternal` for a
    failure of the host (disk full).
    """
    try:
        extract_tar_into(stream, root, _LAYER, decompress=False)
    except EscapingEntry as exc:
        raise UnsafeLayer(f"layer {diff_id}: {exc}; refusing the layer") from exc
    except ArchiveError as exc:
        if exc.member:
            raise InvalidImage(f"layer {diff_id}: cannot unpack: {exc}") from exc
        raise InvalidImage(f"layer {diff_id}: not a valid (compressed) tar: {exc}") from exc
    except OSError as exc:
        raise EngineInternal(f"layer {diff_id}: unpacking failed: {exc}") from exc
