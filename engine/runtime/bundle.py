"""The files of a container's bundle directory, and the host facts its spec needs.

Everything here serves ``ContainerRuntime.create``: the /etc files Docker bind-mounts
(hostname, hosts, resolv.conf), the root file system's mounts, device numbers, the working
directory inside the root, /.dockerenv and /etc/mtab, log limits from ``LogConfig``, and
the init binary.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio

from engine.api.models import ContainerCreate, HostConfig
from engine.errors import InvalidParameter
from engine.fs import resolve
from engine.runtime.spec import HostDevice

DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024
DEFAULT_LOG_MAX_FILES = 5


def size_option(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


LOG_DRIVERS: dict[str, frozenset[str]] = {
    "": frozenset({"max-size", "max-file"}),
    "json-file": frozenset({"max-size", "max-file"}),
    "local": frozenset({"max-size", "max-file"}),
    "none": frozenset(),
}
"""The logging drivers the engine implements and the options each takes. ``local`` is
stored as json-file is (the format is the engine's business; both rotate by size)."""


def log_driver(config: ContainerCreate) -> str:
    """The container's logging driver, checked with its options (InvalidParameter)."""
    log_config = config.host_config.log_config
    driver = log_config.type if log_config else ""
    options = (log_config.config if log_config else None) or {}
    if driver not in LOG_DRIVERS:
        raise InvalidParameter(
            f"logging driver {driver!r} is not supported",
            hint="use json-file (the default), local or none",
        )
    unknown = sorted(set(options) - LOG_DRIVERS[driver])
    if unknown:
        allowed = ", ".join(sorted(LOG_DRIVERS[driver])) or "none"
        raise InvalidParameter(
            f"unknown log opt {unknown[0]!r} for {driver or 'json-file'} log driver",
            hint=f"the options of this driver: {allowed}",
        )
    return driver or "json-file"


def log_limits(config: ContainerCreate) -> tuple[int, int]:
    log_config = config.host_config.log_config
    options = (log_config.config if log_config else None) or {}
    log_driver(config)
    try:
        size = size_option(str(options["max-size"])) if "max-size" in options else None
        files = int(str(options["max-file"])) if "max-file" in options else None
    except (ValueError, OverflowError) as exc:
        raise InvalidParameter(f"invalid log option: {exc}") from exc
    return size or DEFAULT_LOG_MAX_SIZE, files or DEFAULT_LOG_MAX_FILES


def find_init() -> str:
    for name in ("tini-static", "docker-init", "catatonit"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/tini-static"


def stat_devices(paths: Iterable[str]) -> dict[str, HostDevice]:
    """``os.stat`` of each path that is a device node on the host (others are left out:
    spec.build_spec reports them with the path)."""
    devices: dict[str, HostDevice] = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            devices[path] = HostDevice(
                path=path,
                kind="c" if stat.S_ISCHR(info.st_mode) else "b",
                major=os.major(info.st_rdev),
                minor=os.minor(info.st_rdev),
                file_mode=stat.S_IMODE(info.st_mode),
                uid=info.st_uid,
                gid=info.st_gid,
            )
    return devices


def host_devices(host_config: HostConfig) -> dict[str, HostDevice]:
    """``os.stat`` of each device the container maps (``devices: [/dev/fuse]``)."""
    return stat_devices(mapping.path_on_host for mapping in host_config.devices or ())


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def default_hosts(hostname: str) -> str:
    return (
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        f"127.0.1.1\t{hostname}\n"
    )


def mkdir_in_root(rootfs: str, path: str) -> None:
    """mkdir -p of ``path`` inside ``rootfs``, refusing to follow symlinks out of it."""
    current = Path(rootfs)
    for part in [p for p in path.split("/") if p and p != "."]:
        if part == "..":
            raise InvalidParameter(f"invalid path {path!r}: '..' is not allowed")
        current = current / part
        if current.is_symlink():
            return  # the image's own symlink: leave it to runc, which resolves it in the root
        if not current.exists():
            current.mkdir(mode=0o755)


def write_docker_files(rootfs: str) -> None:
    """What Docker's init layer puts in every container's root: an empty ``/.dockerenv``
    (mode 0755) and ``/etc/mtab``, a symlink to /proc/mounts; each replaces what the image
    has there, unless that is a directory (or /etc is none). Resolved beneath the root, so
    the image's symlinks (``/etc -> /``) cannot lead out of it."""
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(IsADirectoryError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(".dockerenv", dir_fd=root_fd)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            marker = os.open(".dockerenv", flags, 0o755, dir_fd=root_fd)
            try:
                os.fchmod(marker, 0o755)
            finally:
                os.close(marker)
        try:
            etc_fd = resolve.mkdirs_beneath(root_fd, "etc")
        except OSError:
            return  # /etc is no directory (a file, a dangling symlink): the image's choice
        try:
            with contextlib.suppress(IsADirectoryError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink("mtab", dir_fd=etc_fd)
                os.symlink("/proc/mounts", "mtab", dir_fd=etc_fd)
        finally:
            os.close(etc_fd)
    finally:
        os.close(root_fd)


async def mount(mount: Mapping[str, Any], target: str) -> None:
    options = ",".join(mount.get("options") or [])
    args = ["mount", "-t", str(mount.get("type", "none")), str(mount.get("source", "none"))]
    if options:
        args += ["-o", options]
    result = await anyio.run_process([*args, target], check=False)
    if result.returncode != 0:
        raise InvalidParameter(
            f"cannot mount the root file system: {result.stderr.decode(errors='replace').strip()}"
        )


_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


async def unmount(target: str) -> None:
    """Detach ``target`` (umount -l), whatever it was; one syscall instead of a process."""
    await anyio.to_thread.run_sync(_libc.umount2, os.fsencode(target), _MNT_DETACH)


def etc_file_path(directory: Path, target: str) -> Path:
    """Where the container directory keeps the content of ``target`` (``/etc/hosts``…)."""
    return directory / target.strip("/").replace("/", "_")


def rewrite_etc_file(directory: Path, target: str, content: str) -> None:
    """New content for a bind-mounted /etc file, written in place: a new file (a rename)
    would not be what the container's mount shows."""
    fd = os.open(etc_file_path(directory, target), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "w") as handle:
        handle.truncate(0)
        handle.write(content)


def write_etc_files(
    directory: Path, hostname: str, *, read_only: bool, overrides: Mapping[str, str]
) -> list[dict[str, Any]]:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf (the host's, unless given) written in
    ``directory``; their bind mounts, read-only along with a read-only root (as Docker)."""
    files = {"/etc/hostname": f"{hostname}\n", "/etc/hosts": default_hosts(hostname)}
    resolv = read_text(Path("/etc/resolv.conf"))
    if resolv:
        files["/etc/resolv.conf"] = resolv
    files.update(overrides)
    mounts: list[dict[str, Any]] = []
    for target, content in files.items():
        host_file = etc_file_path(directory, target)
        host_file.write_text(content)
        mounts.append(
            {
                "destination": target,
                "type": "bind",
                "source": str(host_file),
                "options": ["rbind", "rprivate", *(["ro"] if read_only else [])],
            }
        )
    return mounts
