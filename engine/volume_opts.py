"""Driver options of the local volume driver: ``type``, ``o`` and ``device``, as dockerd.

Two kinds are honoured: ``type=tmpfs`` (a tmpfs as the volume's data; ``o`` takes ``size``,
``nr_inodes``, ``mode``, ``uid``, ``gid`` and the mount flags below) and ``type=none`` with
``o=bind`` (a bind of the existing host directory ``device``). Block file systems (``type=ext4``
and the like with a ``device``) are refused by name.

Every option comes from an API client and becomes arguments of mount(2) as root: ``o`` is
split on commas and each part checked against a closed list; the mount data is rebuilt from
the checked values only, so nothing a client writes reaches the kernel unparsed. The mount
goes straight to mount(2), never through mount(8) and its option parser.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineInternal, InvalidParameter, Unsupported

_KEYS = ("type", "o", "device")
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_NOATIME = 0x400
_MS_NODIRATIME = 0x800
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_RELATIME = 0x200000
_MNT_DETACH = 2
_FLAGS = {
    "ro": _MS_RDONLY,
    "rw": 0,
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
}
_TMPFS_VALUES = ("size", "nr_inodes", "mode", "uid", "gid")
_BIND_WORDS = ("bind", "rbind")
_SIZE = re.compile(r"([0-9]{1,20})([kKmMgG]?)\Z")
_NUMBER = re.compile(r"[0-9]{1,10}\Z")
_OCTAL = re.compile(r"[0-7]{1,4}\Z")
_TMPFS_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "no change" to the kernel: never a real owner
_MAX_INODES = 2**32 - 1
_MAX_DEVICE = 4096
_MAX_OPTION = 1024


@dataclass(frozen=True, slots=True)
class MountPlan:
    """What mount(2) is called with for a volume's data."""

    fstype: str  # "tmpfs" or "" (a bind)
    source: str
    flags: int
    data: str


def _bad(what: str, hint: str) -> InvalidParameter:
    return InvalidParameter(f"invalid volume driver option {what}", hint=hint)


def _memory_total() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise EngineInternal("cannot read MemTotal from /proc/meminfo")


def _size(value: str) -> int:
    match = _SIZE.match(value)
    if match is None:
        raise _bad(f"o: size={value!r}", "give bytes with an optional k, m or g suffix: size=64m")
    number = (
        int(match.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match.group(2).lower()]
    )
    limit = _memory_total()
    if not 0 < number <= limit:
        raise _bad(
            f"o: size={value} is out of range",
            f"a tmpfs volume takes between 1 byte and the host's memory ({limit} bytes)",
        )
    return number


def _tmpfs_value(key: str, value: str) -> str:
    if key == "size":
        return str(_size(value))
    if key == "mode":
        if not _OCTAL.match(value):
            raise _bad(f"o: mode={value!r}", "give octal permission bits: mode=0755")
        return f"{int(value, 8):o}"
    if not _NUMBER.match(value) or int(value) > (_MAX_INODES if key == "nr_inodes" else _MAX_ID):
        raise _bad(f"o: {key}={value!r}", f"give a number: {key}=1000")
    return str(int(value))


def _split(o: str) -> list[str]:
    if len(o) > _MAX_OPTION or "\0" in o or "\n" in o:
        raise _bad(
            "o: too long or has NUL/newline", "give comma-separated options: size=64m,uid=1000"
        )
    return [part.strip() for part in o.split(",") if part.strip()]


def _tmpfs(o: str, device: str) -> MountPlan:
    flags = _MS_NOSUID | _MS_NODEV
    data: dict[str, str] = {}
    for part in _split(o):
        key, equals, value = part.partition("=")
        if not equals and key in _FLAGS:
            flags |= _FLAGS[key]
        elif equals and key in _TMPFS_VALUES:
            data[key] = _tmpfs_value(key, value)
        else:
            raise _bad(
                f"o: {key!r} is not supported for type=tmpfs",
                f"use {', '.join(_TMPFS_VALUES)} or the flags {', '.join(_FLAGS)}",
            )
    if device and not _TMPFS_SOURCE.match(device):
        raise _bad(f"device: {device!r} for type=tmpfs", "leave it out, or give a word: tmpfs")
    return MountPlan(
        "tmpfs", device or "tmpfs", flags, ",".join(f"{k}={v}" for k, v in data.items())
    )


def _bind(o: str, device: str) -> MountPlan:
    flags = _MS_BIND
    bind = False
    for part in _split(o):
        if part in _BIND_WORDS:
            bind = True
            flags |= _MS_REC if part == "rbind" else 0
        elif part in ("ro", "rw"):
            flags |= _FLAGS[part]
        else:
            raise _bad(f"o: {part!r} is not supported for type=none", "give o: bind (or bind,ro)")
    if not bind:
        raise _bad("o: type=none needs bind", "give o: bind with a device: /host/directory")
    if not device:
        raise _bad("device: missing for a bind", "give device: /host/directory")
    if len(device) > _MAX_DEVICE or "\0" in device or "\n" in device or not device.startswith("/"):
        raise _bad(f"device: {device!r} is not an absolute path", "give device: /host/directory")
    if not os.path.isdir(device):
        raise InvalidParameter(
            f"failed to mount local volume: mount {device}: no such file or directory",
            hint="create the host directory first (dockerd requires it too)",
        )
    return MountPlan("", os.path.normpath(device), flags, "")


def plan(options: Mapping[str, str]) -> MountPlan | None:
    """The mount of a volume with these driver options; None for a plain directory."""
    if not options:
        return None
    for key, value in options.items():
        if key not in _KEYS:
            raise _bad(f"{key!r}", "the local driver takes type, o and device")
        if not isinstance(value, str):
            raise _bad(f"{key!r}: not a string", "give type, o and device as strings")
    kind = options.get("type", "")
    o = options.get("o", "")
    device = options.get("device", "")
    if kind == "tmpfs":
        return _tmpfs(o, device)
    if kind == "none":
        return _bind(o, device)
    if not kind:
        raise _bad("type: missing", "give type: tmpfs, or type: none with o: bind")
    raise Unsupported(
        f"volume driver option type={kind[:64]!r} (a block device file system) is not supported",
        hint="use type: tmpfs, or type: none with o: bind and a host directory",
    )


_libc = ctypes.CDLL(None, use_errno=True)


def _call_mount(source: str, target: Path, fstype: str, flags: int, data: str) -> None:
    result = _libc.mount(
        os.fsencode(source),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        error = ctypes.get_errno()
        raise InvalidParameter(
            f"failed to mount local volume at {target}: {os.strerror(error)}",
            hint="check the volume's driver options (type, o, device)",
        )


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mounted(target: Path) -> bool:
    """Whether something is mounted at ``target`` (from mountinfo: ``os.path.ismount`` misses
    a bind of a directory on the same file system)."""
    wanted = os.path.realpath(target)
    with open("/proc/self/mountinfo") as mounts:
        return any(_unescape(line.split()[4]) == wanted for line in mounts)


def mount(target: Path, mount_plan: MountPlan) -> None:
    """Mount the volume's data at ``target`` (its ``_data``) unless it already is."""
    if is_mounted(target):
        return
    if mount_plan.fstype:
        _call_mount(mount_plan.source, target, mount_plan.fstype, mount_plan.flags, mount_plan.data)
        return
    _call_mount(mount_plan.source, target, "", mount_plan.flags & (_MS_BIND | _MS_REC), "")
    if mount_plan.flags & _MS_RDONLY:  # a bind takes flags only on a remount
        try:
            _call_mount("", target, "", _MS_BIND | _MS_REMOUNT | _MS_RDONLY, "")
        except InvalidParameter:
            unmount(target)
            raise


def unmount(target: Path) -> None:
    """Detach whatever is mounted at ``target``, all layers; refuse if something stays."""
    while is_mounted(target):
        if _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
            error = ctypes.get_errno()
            raise EngineInternal(f"cannot unmount volume data {target}: {os.strerror(error)}")
