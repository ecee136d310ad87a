"""Read a tar stream header by header, within limits, never trusting a size before checking it.

The engine parses tar itself instead of using :mod:`tarfile` because tarfile reads a whole
PAX or GNU long-name header into memory whatever size it declares (a 300 KiB layer can
declare a 320 MiB PAX header), and because its extraction helpers are not the engine's
rules. This module only *reads*: :mod:`engine.fs.tar_extract` decides what to do with the
members.

Formats: POSIX ustar and pax (``x`` per-entry and ``g`` global headers), GNU (``L`` long
names, ``K`` long link names, base-256 numbers) and old V7 headers. GNU sparse files,
multi-volume and other special entries are refused (:class:`ArchiveError`).

Limits (:class:`Limits`) are checked against the sizes a header *declares*, before any of
the bytes are read: the total bytes of the (decompressed) stream, the number of entries
(extended headers count), the size of one extended header, and the length of names and
link targets. :func:`open_decompressed` recognises gzip, zstd, bzip2 and xz by their magic
bytes and decompresses as the reader asks, so memory stays bounded whatever the ratio.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import lzma
import struct
import zlib
from collections.abc import Iterator
from typing import Protocol

import zstandard

from engine.fs.errors import ArchiveError

BLOCK = 512
CHUNK = 1 << 20
_READ_AHEAD = 1 << 18
_XZ_MEMORY_LIMIT = 256 << 20
_ZSTD_MAX_WINDOW = 1 << 27

REGULAR = b"0"
HARD_LINK = b"1"
SYMLINK = b"2"
CHAR_DEVICE = b"3"
BLOCK_DEVICE = b"4"
DIRECTORY = b"5"
FIFO = b"6"
_CONTIGUOUS = b"7"
_PAX = b"x"
_PAX_GLOBAL = b"g"
_GNU_LONG_NAME = b"L"
_GNU_LONG_LINK = b"K"
_EXTENDED = (_PAX, _PAX_GLOBAL, _GNU_LONG_NAME, _GNU_LONG_LINK)
_KNOWN = (REGULAR, HARD_LINK, SYMLINK, CHAR_DEVICE, BLOCK_DEVICE, DIRECTORY, FIFO)
_XATTR_PREFIX = "SCHILY.xattr."


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one tar stream. The defaults fit the largest real image layers."""

    max_total_bytes: int = 64 << 30
    """Bytes of the decompressed tar stream, headers and padding included."""
    max_entries: int = 1_000_000
    """Headers, extended ones included."""
    max_header_bytes: int = 1 << 20
    """One PAX (``x``/``g``) or GNU long-name (``L``/``K``) header (Go's limit too)."""
    max_path_bytes: int = 4096
    """A member's name or link target (PATH_MAX)."""
    max_depth: int = 512
    """Components of a member's name."""


@dataclasses.dataclass(slots=True)
class Member:
    """One entry, its extended headers applied. ``type`` is the ustar type byte (``0`` for
    a regular file, whatever form the archive used); ``size`` is the bytes of data."""

    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    linkname: str
    devmajor: int
    devminor: int
    xattrs: dict[str, bytes]

    @property
    def is_dir(self) -> bool:
        return self.type == DIRECTORY


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _field(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def _number(raw: bytes, what: str) -> int:
    if raw and raw[0] & 0x80:  # GNU base-256
        if raw[0] == 0xFF:
            raise ArchiveError(f"the header has a negative {what}")
        return int.from_bytes(raw, "big") & ~(0x80 << (8 * (len(raw) - 1)))
    text = _field(raw).strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ArchiveError(f"the header's {what} field {raw!r} is not an octal number") from None


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(struct.unpack("148b8x356b", block)) + 8 * 32
    return stored in (unsigned, signed)


def _mtime_ns(text: str, member: str) -> int:
    seconds, _, fraction = text.partition(".")
    try:
        whole = int(seconds)
        nanos = int((fraction + "000000000")[:9]) if fraction else 0
    except ValueError:
        raise ArchiveError(f"the PAX mtime {text!r} is not a number", member) from None
    return whole * 1_000_000_000 + (-nanos if text.startswith("-") else nanos)


def _pax_records(data: bytes) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        space = data.find(b" ", pos, pos + 20)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            raise ArchiveError("a PAX header has a malformed record")
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not equals:
            raise ArchiveError("a PAX header has a record without '='")
        records[_text(key)] = value
        pos = end
    return records


class _Source:
    """The (decompressed) stream, read ahead in large chunks, with every byte counted."""

    def __init__(self, stream: Readable, limits: Limits) -> None:
        self._stream = stream
        self._limit = limits.max_total_bytes
        self._buffer = b""
        self._offset = 0
        self.consumed = 0

    def reserve(self, size: int, what: str, member: str = "") -> None:
        """Refuse before reading when ``size`` more bytes would pass the limit."""
        if self.consumed + size > self._limit:
            raise ArchiveError(
                f"{what} would take the archive past its limit of {self._limit} bytes "
                "(decompressed)",
                member,
            )

    def _fill(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
            raise ArchiveError(f"the archive's compressed stream is broken: {exc}") from exc

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of the stream)."""
        available = len(self._buffer) - self._offset
        if available == 0:
            if size >= _READ_AHEAD:
                data = self._fill(size)
                self.consumed += len(data)
                return data
            self._buffer = self._fill(_READ_AHEAD)
            self._offset = 0
            available = len(self._buffer)
            if not available:
                return b""
        take = min(size, available)
        data = self._buffer[self._offset : self._offset + take]
        self._offset += take
        self.consumed += take
        return data

    def read_exact(self, size: int, what: str, member: str = "") -> bytes:
        parts = []
        remaining = size
        while remaining:
            data = self.read(min(remaining, CHUNK))
            if not data:
                raise ArchiveError(f"the archive ends in the middle of {what}", member)
            parts.append(data)
            remaining -= len(data)
        return b"".join(parts)

    def skip(self, size: int, what: str, member: str = "") -> None:
        while size:
            data = self.read(min(size, CHUNK))
            if not data:
                raise ArchiveError(f"the archive ends in the middle of {what}", member)
            size -= len(data)


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


class TarReader:
    """Members of a tar stream, in order. Iterate; for a regular file, read its data with
    :meth:`data` before the next member (what is not read is skipped).

    Error handling: :class:`ArchiveError` for a broken archive or a limit passed.
    """

    def __init__(self, stream: Readable, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._source = _Source(stream, self.limits)
        self._entries = 0
        self._unread = 0  # data bytes of the current member not read yet
        self._padding = 0
        self._global: dict[str, bytes] = {}
        self._current = ""

    @property
    def consumed(self) -> int:
        """Decompressed bytes read so far."""
        return self._source.consumed

    def data(self) -> Iterator[bytes]:
        """The current member's data, in chunks of at most :data:`CHUNK` bytes."""
        while self._unread:
            chunk = self._source.read(min(self._unread, CHUNK))
            if not chunk:
                raise ArchiveError("the archive ends in the middle of the data", self._current)
            self._unread -= len(chunk)
            yield chunk

    def _skip_rest(self) -> None:
        self._source.skip(self._unread + self._padding, "the data", self._current)
        self._unread = self._padding = 0

    def drain(self) -> None:
        """Read the stream to its end (what follows the end-of-archive marker), counted
        against the total limit: a producer writing into a pipe is never left blocked."""
        while self._source.read(CHUNK):
            self._source.reserve(0, "what follows the end of the archive")

    def __iter__(self) -> Iterator[Member]:
        while True:
            self._skip_rest()
            member = self._next()
            if member is None:
                return
            yield member

    def _header(self) -> bytes | None:
        self._entries += 1
        if self._entries > self.limits.max_entries:
            raise ArchiveError(f"the archive has more than {self.limits.max_entries} entries")
        self._source.reserve(BLOCK, "a header")
        block = self._source.read(BLOCK)
        while block and len(block) < BLOCK:
            more = self._source.read(BLOCK - len(block))
            if not more:
                break
            block += more
        if not block:
            return None  # no end-of-archive marker: the stream just ends (as Go accepts)
        if len(block) < BLOCK:
            raise ArchiveError("the archive ends in the middle of a header")
        if block == bytes(BLOCK):
            return None
        if not _checksum_ok(block):
            raise ArchiveError(
                "a header has a bad checksum (not a tar, or a corrupt one)", self._current
            )
        return block

    def _extended(self, kind: bytes, size: int) -> bytes:
        if size > self.limits.max_header_bytes:
            what = "PAX" if kind in (_PAX, _PAX_GLOBAL) else "GNU long-name"
            raise ArchiveError(
                f"a {what} header declares {size} bytes; the limit is "
                f"{self.limits.max_header_bytes}",
                self._current,
            )
        self._source.reserve(_padded(size), "an extended header", self._current)
        data = self._source.read_exact(size, "an extended header", self._current)
        self._source.skip(_padded(size) - size, "an extended header", self._current)
        return data

    def _next(self) -> Member | None:
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            block = self._header()
            if block is None:
                return None
            kind = block[156:157]
            size = _number(block[124:136], "size")
            if kind in _EXTENDED:
                data = self._extended(kind, size)
                if kind == _PAX:
                    pax.update(_pax_records(data))
                elif kind == _PAX_GLOBAL:
                    self._global.update(_pax_records(data))
                elif kind == _GNU_LONG_NAME:
                    long_name = _field(data)
                else:
                    long_link = _field(data)
                continue
            return self._member(block, kind, size, {**self._global, **pax}, long_name, long_link)

    def _member(
        self,
        block: bytes,
        kind: bytes,
        size: int,
        pax: dict[str, bytes],
        long_name: bytes | None,
        long_link: bytes | None,
    ) -> Member:
        raw_name = _field(block[0:100])
        if block[257:263] == b"ustar\0":  # POSIX: a prefix field; GNU uses it otherwise
            prefix = _field(block[345:500])
            if prefix:
                raw_name = prefix + b"/" + raw_name
        name = _text(long_name if long_name is not None else raw_name)
        linkname = _text(long_link if long_link is not None else _field(block[157:257]))
        if "path" in pax:
            name = _text(pax["path"])
        if "linkpath" in pax:
            linkname = _text(pax["linkpath"])
        self._current = name
        limits = self.limits
        if len(name.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
            raise ArchiveError(f"the name is longer than {limits.max_path_bytes} bytes", name)
        if len(linkname.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
            raise ArchiveError(
                f"the link target is longer than {limits.max_path_bytes} bytes", name
            )
        if any(key.startswith("GNU.sparse.") for key in pax) or kind == b"S":
            raise ArchiveError("sparse files are not supported", name)
        if kind in (b"\0", _CONTIGUOUS):
            kind = REGULAR
        if kind == REGULAR and name.endswith("/"):
            kind = DIRECTORY  # old V7 archives mark directories only by the slash
        if kind not in _KNOWN:
            raise ArchiveError(f"the entry type {kind!r} is not supported", name)
        try:
            if "size" in pax:
                size = int(pax["size"])
            uid = int(pax["uid"]) if "uid" in pax else _number(block[108:116], "uid")
            gid = int(pax["gid"]) if "gid" in pax else _number(block[116:124], "gid")
        except ValueError:
            raise ArchiveError("a PAX size, uid or gid is not a number", name) from None
        if size < 0 or uid < 0 or gid < 0 or uid >= 1 << 32 or gid >= 1 << 32:
            raise ArchiveError("the size, uid or gid is out of range", name)
        mtime_ns = (
            _mtime_ns(_text(pax["mtime"]), name)
            if "mtime" in pax
            else _number(block[136:148], "mtime") * 1_000_000_000
        )
        if kind != REGULAR:
            size = 0  # only regular files have data (as tarfile and Go read it)
        self._source.reserve(_padded(size), f"a file of {size} bytes", name)
        self._unread = size
        self._padding = _padded(size) - size
        xattrs = {
            key[len(_XATTR_PREFIX) :]: value
            for key, value in pax.items()
            if key.startswith(_XATTR_PREFIX)
        }
        return Member(
            name=name,
            type=kind,
            mode=_number(block[100:108], "mode") & 0o7777,
            uid=uid,
            gid=gid,
            size=size,
            mtime_ns=mtime_ns,
            linkname=linkname,
            devmajor=_number(block[329:337], "devmajor"),
            devminor=_number(block[337:345], "devminor"),
            xattrs=xattrs,
        )


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        size = len(buffer)
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
        else:
            data = self._rest.read(size)
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(raw: Readable) -> Readable:
    """``raw`` decompressed as its magic bytes call for (gzip, zstd, bzip2, xz; else as is).

    ``raw`` is read forward only (a pipe will do). Memory stays bounded: each decompressor
    produces only what is asked of it (xz's dictionary is capped at 256 MiB, zstd's window
    at 128 MiB).
    """
    head = b""
    while len(head) < 6:
        data = raw.read(6 - len(head))
        if not data:
            break
        head += data
    stream = io.BufferedReader(_Prefixed(head, raw), _READ_AHEAD)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head[:4] == b"\x28\xb5\x2f\xfd":
        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        reader: Readable = decompressor.stream_reader(stream, read_across_frames=True)
        return reader
    if head[:3] == b"BZh":
        return bz2.BZ2File(stream, mode="rb")
    if head[:6] == b"\xfd7zXZ\x00":
        return _XzReader(stream)
    return stream


class _XzReader:
    """An xz stream decoded on demand, its dictionary memory capped."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._decoder = lzma.LZMADecompressor(memlimit=_XZ_MEMORY_LIMIT)

    def read(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else size
        while not self._decoder.eof:
            data = b""
            if self._decoder.needs_input:
                data = self._raw.read(_READ_AHEAD)
                if not data:
                    raise EOFError("the xz stream is truncated")
            out = self._decoder.decompress(data, max_length=size)
            if out:
                return out
        return b""
