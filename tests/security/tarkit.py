"""Build test tars with tarfile (writing only), including ones no sane tool writes."""

from __future__ import annotations

import dataclasses
import io
import struct
import tarfile
from collections.abc import Iterable


@dataclasses.dataclass
class Entry:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = 1_600_000_000
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] = dataclasses.field(default_factory=dict)


def f(name: str, data: bytes = b"", **kw: object) -> Entry:
    return Entry(name, tarfile.REGTYPE, data, **kw)  # type: ignore[arg-type]


def d(name: str, **kw: object) -> Entry:
    kw.setdefault("mode", 0o755)
    return Entry(name, tarfile.DIRTYPE, **kw)  # type: ignore[arg-type]


def sym(name: str, target: str, **kw: object) -> Entry:
    return Entry(name, tarfile.SYMTYPE, linkname=target, **kw)  # type: ignore[arg-type]


def hard(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, linkname=target)


def chardev(name: str, major: int, minor: int) -> Entry:
    return Entry(name, tarfile.CHRTYPE, devmajor=major, devminor=minor, mode=0o600)


def xattr(entry: Entry, **values: str) -> Entry:
    for key, value in values.items():
        entry.pax["SCHILY.xattr." + key.replace("__", ".")] = value
    return entry


def tar_bytes(entries: Iterable[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.type
            info.linkname = entry.linkname
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.mtime = entry.mtime
            info.devmajor, info.devminor = entry.devmajor, entry.devminor
            info.pax_headers = dict(entry.pax)
            info.size = len(entry.data)
            tar.addfile(info, io.BytesIO(entry.data) if entry.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def raw_header(name: bytes, kind: bytes, size: int) -> bytes:
    """One ustar header block with a correct checksum, whatever ``size`` claims."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"00000000000\0"
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    checksum = sum(block)
    block[148:156] = b"%06o\0 " % checksum
    assert struct.calcsize("512s") == len(block)
    return bytes(block)
