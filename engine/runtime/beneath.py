"""Paths inside a directory a container can write, opened so that they cannot escape it.

A volume's content belongs to its containers: any of them can plant a symlink (``ln -s /
/data/evil``) or swap a directory for one while the engine looks. A ``subpath`` of a volume
is therefore never handed to runc as a path string (runc would follow the symlink on the
host): :func:`open_volume_path` resolves it with the engine's one resolver
(:func:`engine.fs.open_beneath` with ``strict``: ``openat2(RESOLVE_BENEATH)``, or its
``O_NOFOLLOW`` walk on kernels without openat2) to an ``O_PATH`` descriptor, and :func:`stage`
bind-mounts exactly that descriptor (``/proc/self/fd/N``) on a private staging point in the
container's directory for the time of ``runc create``. What was checked is what is mounted.

The staging points are listed in ``<container dir>/staged.json``; they are unmounted as soon
as runc has made its own mounts, and again (leftovers of a crash) before a new start and
before the container's directory is deleted.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter
from engine.fs.resolve import open_beneath

STAGED_FILE = "staged.json"
STAGING_DIR = "staged"

_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


class EscapesRoot(InvalidParameter):
    """A path that leads out of the directory it must stay in (a symlink, ``..``)."""


def open_volume_path(root: str, subpath: str) -> int:
    """An ``O_PATH`` descriptor of ``subpath`` inside the volume directory ``root``.

    Error handling: EscapesRoot when it leads out of the volume; InvalidParameter when it
    does not exist.
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return open_beneath(root_fd, subpath, os.O_PATH, strict=True)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.ELOOP):
            raise EscapesRoot(
                f"invalid volume subpath {subpath!r}: it leads out of the volume "
                "(a symlink to a path outside, or '..')",
                hint="a subpath must name a directory or file inside the volume",
            ) from None
        raise InvalidParameter(
            f"invalid volume subpath {subpath!r}: {exc.strerror}",
            hint="create it in the volume first",
        ) from None
    finally:
        os.close(root_fd)


@dataclass(frozen=True, slots=True)
class StagedMount:
    """A volume subpath that runc mounts from ``staging`` (see the module doc)."""

    staging: str
    root: str
    subpath: str


def plan_staging(
    mounts: Sequence[dict[str, Any]], directory: Path
) -> tuple[list[dict[str, Any]], list[StagedMount]]:
    """Mount entries with each volume subpath (key ``subpath``, see engine.runtime.mounts)
    turned into a bind of a staging point in ``directory``; the staging points.

    Each subpath is resolved once here, so that a bad one is refused at create.
    """
    planned: list[dict[str, Any]] = []
    staged: list[StagedMount] = []
    for entry in mounts:
        subpath = entry.get("subpath")
        if not subpath:
            planned.append(entry)
            continue
        os.close(open_volume_path(entry["source"], subpath))
        staging = str(directory / STAGING_DIR / str(len(staged)))
        staged.append(StagedMount(staging, entry["source"], subpath))
        planned.append({k: v for k, v in entry.items() if k != "subpath"} | {"source": staging})
    return planned, staged


def save(directory: Path, staged: Sequence[StagedMount]) -> None:
    if staged:
        records = [{"staging": s.staging, "root": s.root, "subpath": s.subpath} for s in staged]
        (directory / STAGED_FILE).write_text(json.dumps(records))


def load(directory: Path) -> list[StagedMount]:
    try:
        records = json.loads((directory / STAGED_FILE).read_text())
    except FileNotFoundError:
        return []
    return [StagedMount(str(r["staging"]), str(r["root"]), str(r["subpath"])) for r in records]


def staging_map(directory: Path) -> Mapping[str, StagedMount]:
    """The staged mounts of a container by staging point (``volumes_from`` copies them)."""
    return {staged.staging: staged for staged in load(directory)}


def _mount(source: str, target: str, flags: int) -> None:
    if _libc.mount(os.fsencode(source), os.fsencode(target), None, flags, None) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), target)


def unstage(directory: Path) -> None:
    """Unmount every staging point of the container in ``directory`` (bind mounts of the
    same file system are invisible to ``os.path.ismount``: umount until nothing is left)."""
    for staged in load(directory):
        while _libc.umount2(os.fsencode(staged.staging), _MNT_DETACH) == 0:
            continue
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise OSError(code, os.strerror(code), staged.staging)


def _stage(staged: StagedMount) -> None:
    fd = open_volume_path(staged.root, staged.subpath)
    try:
        target = Path(staged.staging)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            target.mkdir(mode=0o700, exist_ok=True)
        else:
            target.touch(mode=0o600, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", staged.staging, _MS_BIND | _MS_REC)
        _mount("none", staged.staging, _MS_PRIVATE | _MS_REC)
    finally:
        os.close(fd)


def stage(directory: Path) -> None:
    """Mount the container's staging points, each subpath resolved anew; :func:`unstage`
    once ``runc create`` has made its own mounts from them.

    Error handling: EscapesRoot / InvalidParameter (nothing is left mounted then).
    """
    unstage(directory)
    try:
        for staged in load(directory):
            _stage(staged)
    except BaseException:
        unstage(directory)
        raise
