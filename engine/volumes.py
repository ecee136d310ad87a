"""Volumes: named and anonymous volumes of the local driver, bind mounts, tmpfs.

Lifecycle of a volume: created (explicitly, or on first use by a container) as a
directory ``<root>/<name>/_data`` with ``<root>/<name>/volume.json`` (name, labels, options,
creation time, the containers using it); filled from the image's content at the mount
point the first time a container mounts it while it is empty (unless ``nocopy``); removed
only when no container uses it; pruned when unused (anonymous ones only unless
``all_volumes``).

Glossary: *anonymous volume* a volume with a generated 64-hex name, made for a target in
the image's or container's ``Volumes`` (label ``com.docker.volume.anonymous``); *users* the
ids of the containers that mount the volume.

:func:`prepare_mounts` is what container creation calls: it creates what is missing and
returns the ``volume_paths`` that engine.runtime turns into OCI mounts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from engine import volume_opts
from engine.api.models import ContainerCreate, ImageConfig
from engine.errors import Conflict, EngineError, InvalidParameter, NotFound, Unsupported
from engine.file_modes import private_directory, write_private
from engine.runtime.mounts import parse_bind

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    mountpoint: Path
    labels: Mapping[str, str]
    created_at: float
    anonymous: bool
    users: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    driver: str = "local"


@dataclass(frozen=True, slots=True)
class PruneReport:
    removed: tuple[str, ...]
    space_reclaimed: int


def _users(record: Mapping[str, object]) -> list[str]:
    users = record.get("users") or []
    return [str(user) for user in users] if isinstance(users, list) else []


def _directory_size(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


class VolumeStore:
    """Volumes of the local driver under ``root`` (``<data root>/volumes``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        private_directory(self.root)  # volume contents are the containers': no host user's

    def _record_path(self, name: str) -> Path:
        return self.root / name / "volume.json"

    def _read(self, name: str) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self._record_path(name).read_text())
        except FileNotFoundError:
            raise NotFound(f"get {name}: no such volume") from None
        return data

    def _write(self, name: str, record: Mapping[str, object]) -> None:
        path = self._record_path(name)
        temporary = path.with_suffix(".tmp")
        write_private(temporary, json.dumps(record))
        os.replace(temporary, path)

    def _volume(self, record: Mapping[str, object]) -> Volume:
        name = str(record["name"])
        labels = record.get("labels") or {}
        options = record.get("options") or {}
        users = record.get("users") or []
        assert isinstance(labels, dict) and isinstance(options, dict) and isinstance(users, list)
        return Volume(
            name=name,
            mountpoint=self.root / name / "_data",
            labels=dict(labels),
            created_at=float(str(record.get("created_at", 0))),
            anonymous=bool(record.get("anonymous")),
            users=tuple(str(user) for user in users),
            options=dict(options),
        )

    def create(
        self,
        name: str = "",
        *,
        labels: Mapping[str, str] | None = None,
        driver: str = "local",
        driver_opts: Mapping[str, str] | None = None,
    ) -> Volume:
        """Create a volume; an existing one of that name is returned as it is (Docker)."""
        if driver not in ("", "local"):
            raise Unsupported(
                f"volume driver {driver!r} is not supported", hint="use the local driver"
            )
        options = dict(driver_opts or {})
        volume_opts.plan(options)  # refuses bad options before anything is made
        anonymous = not name
        name = name or secrets.token_hex(32)
        if not _NAME.match(name):
            raise InvalidParameter(
                f"create {name}: {name!r} includes invalid characters for a local volume name",
                hint="only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            )
        if self._record_path(name).exists():
            return self.get(name)
        all_labels = dict(labels or {})
        if anonymous:
            all_labels.setdefault(ANONYMOUS_LABEL, "")
        (self.root / name / "_data").mkdir(parents=True, exist_ok=True)
        record = {
            "name": name,
            "labels": all_labels,
            "options": options,
            "created_at": time.time(),
            "anonymous": anonymous,
            "users": [],
            "copied": False,
        }
        self._write(name, record)
        return self._volume(record)

    def get(self, name: str) -> Volume:
        return self._volume(self._read(name))

    def all(self, *, label: Mapping[str, str | None] | None = None) -> list[Volume]:
        """Volumes, by name; ``label`` filters as Docker's ``label=key`` / ``label=key=value``."""
        volumes = []
        for record_path in sorted(self.root.glob("*/volume.json")):
            volume = self._volume(json.loads(record_path.read_text()))
            if label and not all(
                key in volume.labels and (value is None or volume.labels[key] == value)
                for key, value in label.items()
            ):
                continue
            volumes.append(volume)
        return volumes

    def ensure_mounted(self, name: str) -> None:
        """Mount a volume's data as its driver options say (tmpfs, bind) if not yet mounted.

        Mounted at first use and kept until the volume is removed: containers outlive an
        engine restart (live-restore), and a host reboot is mended at the next start.
        """
        options = self._read(name).get("options") or {}
        assert isinstance(options, dict)
        mount_plan = volume_opts.plan({str(k): str(v) for k, v in options.items()})
        if mount_plan is not None:
            volume_opts.mount(self.root / name / "_data", mount_plan)

    def mount_for(self, container_id: str) -> None:
        """Before a container starts: mount the data of every volume it uses."""
        for volume in self.all():
            if container_id in volume.users and volume.options:
                self.ensure_mounted(volume.name)

    def mount_in_use(self) -> list[str]:
        """At engine start: mount what a host reboot took away from volumes in use, before a
        restart policy starts their containers; the names that could not be mounted."""
        failed = []
        for volume in self.all():
            if volume.users and volume.options:
                try:
                    self.ensure_mounted(volume.name)
                except EngineError:
                    failed.append(volume.name)
        return failed

    def add_user(self, name: str, container_id: str) -> None:
        record = self._read(name)
        users = _users(record)
        if container_id not in users:
            users.append(container_id)
        self._write(name, {**record, "users": users})

    def remove_user(self, name: str, container_id: str) -> None:
        try:
            record = self._read(name)
        except NotFound:
            return
        users = [user for user in _users(record) if user != container_id]
        self._write(name, {**record, "users": users})

    async def remove(self, name: str, *, force: bool = False) -> None:
        """Remove a volume; refused while a container uses it."""
        volume = self.get(name)
        if volume.users and not force:
            raise Conflict(
                f"remove {name}: volume is in use - [{', '.join(volume.users)}]",
                hint="remove the containers that use it first",
            )
        data = self.root / name / "_data"
        # never let rmtree walk into a tmpfs or, worse, a bound host directory
        await anyio.to_thread.run_sync(volume_opts.unmount, data)
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(self.root / name))

    async def prune(
        self, *, all_volumes: bool = False, label: Mapping[str, str | None] | None = None
    ) -> PruneReport:
        """Remove unused volumes: anonymous ones, or all with ``all_volumes`` (Docker 23+)."""
        removed: list[str] = []
        space = 0
        for volume in self.all(label=label):
            if volume.users or not (all_volumes or volume.anonymous):
                continue
            if volume.options.get("type") != "none":  # a bound host directory is not reclaimed
                space += await anyio.to_thread.run_sync(_directory_size, volume.mountpoint)
            await self.remove(volume.name)
            removed.append(volume.name)
        return PruneReport(tuple(removed), space)

    async def fill_from_image(self, name: str, source: Path) -> bool:
        """Copy ``source`` (the image's content at the mount point) into an empty volume.

        Done once: a volume that has been filled, or that is not empty, is left alone.
        """
        record = self._read(name)
        data = self.root / name / "_data"
        if record.get("copied") or any(data.iterdir()):
            return False
        if source.is_dir() and not source.is_symlink() and any(source.iterdir()):
            result = await anyio.run_process(["cp", "-a", f"{source}/.", f"{data}/"], check=False)
            if result.returncode != 0:
                raise InvalidParameter(
                    f"cannot copy the image's content into volume {name}: "
                    f"{result.stderr.decode(errors='replace').strip()}"
                )
            stat = source.stat()
            os.chown(data, stat.st_uid, stat.st_gid)
            os.chmod(data, stat.st_mode & 0o7777)
        self._write(name, {**self._read(name), "copied": True})
        return True


def _inside(rootfs: Path, target: str) -> Path:
    path = rootfs / target.lstrip("/")
    try:
        path.resolve().relative_to(rootfs.resolve())
    except ValueError:
        return rootfs / "nonexistent-outside-root"
    return path


async def prepare_mounts(
    store: VolumeStore,
    container_id: str,
    config: ContainerCreate,
    image: ImageConfig,
    rootfs: Path,
) -> dict[str, str]:
    """Create the volumes and host paths the container needs; its ``volume_paths``.

    Named volumes in Binds/Mounts are created when missing and filled from the image
    (unless ``nocopy``); each ``Volumes`` target of the image or container that no other
    mount covers gets an anonymous volume (key ``"anonymous:<target>"``); a bind's missing
    host path is created for the short syntax (Docker), refused for the long one unless
    ``CreateMountpoint``. Tmpfs needs nothing here.
    """
    host_config = config.host_config
    volume_paths: dict[str, str] = {}
    covered: set[str] = set()
    named: list[tuple[str, str, bool]] = []  # (name, target, nocopy)
    for bind in host_config.binds or ():
        parsed = parse_bind(bind)
        covered.add(parsed.target)
        if parsed.is_volume:
            named.append((parsed.source, parsed.target, parsed.no_copy))
        elif not os.path.exists(parsed.source):
            os.makedirs(parsed.source, mode=0o755, exist_ok=True)
    for mount in host_config.mounts or ():
        covered.add(mount.target)
        if mount.type == "bind":
            create = mount.bind_options is not None and mount.bind_options.create_mountpoint
            if not os.path.exists(mount.source):
                if not create:
                    raise InvalidParameter(
                        f'invalid mount config for type "bind": bind source path does not '
                        f"exist: {mount.source}",
                        hint="create it, or set create_host_path",
                    )
                os.makedirs(mount.source, mode=0o755, exist_ok=True)
        elif mount.type == "volume":
            options = mount.volume_options
            nocopy = options.no_copy if options else False
            if mount.source:
                if options and options.labels:
                    store.create(mount.source, labels=options.labels)
                named.append((mount.source, mount.target, nocopy))
            else:
                volume = store.create()
                volume_paths[f"anonymous:{mount.target}"] = str(volume.mountpoint)
                store.add_user(volume.name, container_id)
                if not nocopy:
                    await store.fill_from_image(volume.name, _inside(rootfs, mount.target))
    for target in host_config.tmpfs or {}:
        covered.add(target)
    for name, target, nocopy in named:
        volume = store.create(name)
        store.ensure_mounted(name)
        volume_paths[name] = str(volume.mountpoint)
        store.add_user(name, container_id)
        if not nocopy:
            await store.fill_from_image(name, _inside(rootfs, target))
    for target in {**image.volumes, **(config.volumes or {})}:
        if target in covered:
            continue
        volume = store.create()
        volume_paths[f"anonymous:{target}"] = str(volume.mountpoint)
        store.add_user(volume.name, container_id)
        await store.fill_from_image(volume.name, _inside(rootfs, target))
    return volume_paths


async def release_mounts(
    store: VolumeStore, container_id: str, *, remove_anonymous: bool = False
) -> list[str]:
    """Forget a removed container's use of its volumes; with ``remove_anonymous``
    (``docker rm -v``) its anonymous volumes go too. The names removed."""
    removed: list[str] = []
    for volume in store.all():
        if container_id not in volume.users:
            continue
        store.remove_user(volume.name, container_id)
        if remove_anonymous and volume.anonymous and volume.users == (container_id,):
            await store.remove(volume.name)
            removed.append(volume.name)
    return removed
