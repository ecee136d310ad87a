"""Union mounts: image layers joined by overlayfs. Mounting needs root.

A container root is ``overlay(lowerdir = the image's layers, top first; upperdir,
workdir = the container's own dirs under containers/<id>/)``. Lower dirs are
named by their short links relative to the images root (``l/<12 hex>``) and the
mount runs with that root as working directory, as Docker's overlay2 does: 128
layers then take about 2 KB of the one page (4096 bytes) of mount options.

``image mount`` is the same without upper and work: read-only. overlayfs needs
two lower dirs when there is no upper, so a one-layer image gets the empty dir
``empty/`` below it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import anyio

from engine.errors import EngineInternal
from engine.images.errors import InvalidImage
from engine.images.unpack import SHORT_LINK_LENGTH, short_link

PAGE_SIZE = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class Mount:
    """A mount to make: ``mount -t type -o options source target``.

    ``cwd``: relative paths in ``options`` are relative to it; mount from there.
    """

    type: str
    source: str
    options: tuple[str, ...]
    cwd: Path | None = None


def lower_dirs(images_root: Path, chain_ids: Sequence[str]) -> list[str]:
    """Short-link names of the layers, top layer first, relative to ``images_root``."""
    links = images_root / "l"
    out = []
    for chain_id in reversed(chain_ids):
        link = short_link(links, chain_id)
        if not link.is_symlink():
            raise InvalidImage(f"layer {chain_id} is not unpacked; pull the image again")
        out.append(f"l/{link.name}")
    return out


def overlay_mount(
    images_root: Path,
    chain_ids: Sequence[str],
    upper: Path | None = None,
    work: Path | None = None,
) -> Mount:
    lowers = lower_dirs(images_root, chain_ids)
    options: list[str] = []
    if upper is None:
        if len(lowers) < 2:
            (images_root / "empty").mkdir(exist_ok=True)
            lowers.append("empty")
        options.append("ro")
    options.append("lowerdir=" + ":".join(lowers))
    if upper is not None and work is not None:
        options += [f"upperdir={upper}", f"workdir={work}"]
    options.append("index=off")
    if len(",".join(options)) >= PAGE_SIZE:
        raise InvalidImage(
            f"{len(lowers)} layers do not fit in one overlay mount "
            f"(at most about {PAGE_SIZE // (SHORT_LINK_LENGTH + 3)} layers)"
        )
    return Mount("overlay", "overlay", tuple(options), cwd=images_root)


async def mount(spec: Mount, target: Path) -> None:
    """Mount ``spec`` on ``target`` (made if missing): mount(2) in a worker thread, not a
    mount(8) process per container."""
    target.mkdir(parents=True, exist_ok=True)
    code = await anyio.to_thread.run_sync(_mount2, spec, str(target))
    if code != 0:
        raise EngineInternal(
            f"cannot mount {spec.type} on {target}: {os.strerror(code)} "
            "(union mounts need root and overlayfs)"
        )


_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_FS = 0x200
_MS_RDONLY = 0x1


def _mount2(spec: Mount, target: str) -> int:
    """mount(2) of ``spec``: 0 or the errno. Relative paths in its options (the layers'
    short links) resolve against ``spec.cwd``, the working directory of this thread alone:
    it stops sharing the process's (unshare CLONE_FS) before it changes it, and goes back."""
    flags = _MS_RDONLY if "ro" in spec.options else 0
    data = ",".join(option for option in spec.options if option != "ro")
    previous = -1
    if spec.cwd is not None:
        if _libc.unshare(_CLONE_FS) != 0:
            return ctypes.get_errno()
        previous = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.chdir(spec.cwd)
    try:
        source, point, kind = (os.fsencode(x) for x in (spec.source, target, spec.type))
        status = _libc.mount(source, point, kind, ctypes.c_ulong(flags), data.encode())
        return ctypes.get_errno() if status != 0 else 0
    finally:
        if previous >= 0:
            os.fchdir(previous)
            os.close(previous)


def _umount2(target: str) -> int:
    """umount2(2) itself: 0 or the errno (one syscall instead of a umount(8) process)."""
    if _libc.umount2(os.fsencode(target), 0) == 0:
        return 0
    return ctypes.get_errno()


async def umount(target: Path) -> None:
    """Unmount ``target``; nothing if nothing is mounted there (or it does not exist).

    umount2(2) itself tells: EINVAL is "not a mount point", so the mount table, long with
    hundreds of containers, is not read on the event loop for every removal.
    """
    code = await anyio.to_thread.run_sync(_umount2, str(target))
    if code in (0, errno.EINVAL, errno.ENOENT):
        return
    raise EngineInternal(f"cannot unmount {target}: {os.strerror(code)}")


def is_mounted(target: Path) -> bool:
    wanted = os.path.realpath(target)
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            point = line.split()[4].replace("\\040", " ")
            if point == wanted:
                return True
    return False


def container_dirs(images_root: Path, container_id: str) -> tuple[Path, Path, Path]:
    base = images_root / "containers" / container_id
    return base, base / "upper", base / "work"


def prepare_rootfs(images_root: Path, container_id: str, chain_ids: Sequence[str]) -> list[Mount]:
    """Make the container's upper/work dirs; return the mount of its root file system."""
    if not container_id or "/" in container_id or container_id.startswith("."):
        raise InvalidImage(f"invalid container id {container_id!r}")
    _, upper, work = container_dirs(images_root, container_id)
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    return [overlay_mount(images_root, chain_ids, upper, work)]


def remove_rootfs(images_root: Path, container_id: str) -> None:
    base, _, _ = container_dirs(images_root, container_id)
    if base.exists():
        shutil.rmtree(base)


def run_sync_umount(target: Path) -> None:
    """For clean-up paths outside the event loop."""
    if is_mounted(target):
        subprocess.run(["umount", str(target)], check=False)
