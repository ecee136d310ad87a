"""Containers: create, start, stop, remove and the rest of ``/containers/...``.

A container is its record (:mod:`engine.state`, through the :class:`ContainerIndex`), an
overlay root mounted by the image store under ``<data root>/rootfs/<id>``, its volumes
(engine.volumes), its network sandbox (``networking``) and its runtime bundle
(engine.runtime, run by runc under conmon). Create records the intent first and removes
whatever it made if any step fails; remove marks the record ``removing`` before anything
goes (engine.state's crash rules); :meth:`Containers.repair` finishes both after a crash.

Every started container is watched in the engine's task group: its ``die`` event, and
``AutoRemove`` (after the attach sessions that read its output have ended).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from engine.api import models as api
from engine.api.models.extensions import on_unhealthy, takeover
from engine.daemon import archive, stats
from engine.daemon.backend import commit, restore, takeovers
from engine.daemon.backend.attach import AttachCounts, AttachSession
from engine.daemon.backend.container_view import ContainerViews
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.backend.shapes import STREAM_NUMBERS, strip_nulls
from engine.daemon.backend_api import AttachOptions, CommitOptions, Filters, LogOptions, LogStream
from engine.daemon.networking import Attachment, Networking
from engine.errors import Conflict, EngineError, InvalidParameter, NotFound, Unsupported
from engine.images import ImageService
from engine.images.reference import parse_reference
from engine.runtime import ContainerState
from engine.state import ContainerRecord
from engine.volumes import VolumeStore, prepare_mounts, release_mounts

log = logging.getLogger(__name__)

_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "wise", "zen")
_NOUNS = ("turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "liskov", "dijkstra")


class Containers:
    """The engine's containers over the index, the image store, volumes, runtime, network."""

    def __init__(
        self,
        index: ContainerIndex,
        events: EventSink,
        views: ContainerViews,
        *,
        images: ImageService,
        volumes: VolumeStore,
        networking: Networking | None,
        task_group: TaskGroup,
    ) -> None:
        self.index = index
        self.events = events
        self.views = views
        self.images = images
        self.volumes = volumes
        self.networking = networking
        self.runtime = index.runtime
        self.task_group = task_group
        self.attached = AttachCounts()
        self._watched: set[str] = set()
        self._last_exit: dict[str, int] = {}

    # --- engine start: after a reboot or a crash ------------------------------------

    async def remount(self) -> None:
        """Mount the overlay roots and the volumes' tmpfs and binds a host reboot took away,
        before the runtime restores the containers (a restart policy may start them at once)."""
        for record in self.index.records.values():
            target = self.index.rootfs(record.id)
            if record.status == "created" and target.is_dir() and not os.path.ismount(target):
                try:
                    await self.images.mount_rootfs(record.id, record.image_id, target)
                except (EngineError, OSError):
                    log.exception("cannot mount the root of container %s", record.id)
        for name in await anyio.to_thread.run_sync(self.volumes.mount_in_use):
            log.warning("cannot mount the data of volume %s; its containers will not start", name)

    async def repair(self) -> list[str]:
        """Finish what a crash interrupted (engine.state rule 2); the ids cleaned up."""
        cleaned = []
        for record in self.index.state.unfinished():
            await self.dispose(record.id, force=True, remove_volumes=record.status == "creating")
            cleaned.append(record.id)
        known = {info.id for info in self.runtime.all()}
        for record in list(self.index.records.values()):
            if record.id not in known:
                log.warning("container %s has no bundle any more; forgetting it", record.id)
                await self.dispose(record.id, force=True, remove_volumes=False)
                cleaned.append(record.id)
        for info in self.runtime.all():
            if info.id not in self.index.records:
                log.warning("bundle %s has no record; removing it", info.id)
                with contextlib.suppress(EngineError):
                    await self.runtime.remove(info.id, force=True)
                cleaned.append(info.id)
        # a bundle directory the runtime never finished (killed before its container.json)
        bundles = self.index.data_root / "containers"
        for directory in bundles.iterdir() if bundles.is_dir() else ():
            if (
                re.fullmatch(r"[0-9a-f]{64}", directory.name)
                and directory.name not in self.index.records
            ):
                log.warning("half-written bundle %s; removing it", directory.name)
                await anyio.to_thread.run_sync(_remove_tree, directory)
                cleaned.append(directory.name)
        return cleaned

    async def restore_in_order(self, wanted: list[str]) -> None:
        """Start what restart policies want running again, in dependency order (restore)."""
        known = [cid for cid in wanted if cid in self.index.records]
        labels = {cid: r.body.get("Labels") for cid, r in self.index.records.items()}
        await restore.restore_in_order(known, labels, start=self.start, observe=self._observe)

    def _observe(self, container_id: str) -> restore.Observed | None:
        try:
            info = self.runtime.inspect(container_id)
        except NotFound:
            return None
        health = "" if info.health.value == "none" else info.health.value
        return restore.Observed(info.state.value, health, info.exit_code)

    def watch_running(self) -> None:
        """Watch every container that runs (re-adopted by the runtime on engine start)."""
        for container_id in self.index.records:
            if self.index.running(container_id):
                self._watch(container_id)

    async def dispose(self, container_id: str, *, force: bool, remove_volumes: bool) -> None:
        """Remove everything of a container, whatever exists of it; then its record."""
        try:
            await self.runtime.remove(container_id, force=force)
        except NotFound:  # unknown to the runtime: a bundle it may have begun to write
            bundle = self.index.data_root / "containers" / container_id
            if bundle.exists():
                await anyio.to_thread.run_sync(_remove_tree, bundle)
        target = self.index.rootfs(container_id)
        with contextlib.suppress(OSError, EngineError):
            await self.images.remove_rootfs(
                container_id, target if os.path.ismount(target) else None
            )
        with contextlib.suppress(OSError):
            target.rmdir()
        with contextlib.suppress(OSError, EngineError):
            await release_mounts(self.volumes, container_id, remove_anonymous=remove_volumes)
        if self.networking is not None:
            with contextlib.suppress(OSError, EngineError):
                await self.networking.detach(container_id)
        self.index.state.delete_container(container_id)
        self.index.forget(container_id)
        self.views.forget(container_id)

    # --- list, create, inspect ------------------------------------------------------

    async def list_wire(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[dict[str, Any]]:
        selected = self.views.select(all=all, filters=filters, limit=limit)
        return [self.views.summary_wire(record, info) for record, info in selected]

    def _pid_of(self, ref: str) -> int:
        """The pid of a running container whose network namespace another one joins."""
        record = self.index.find(ref)
        if not self.index.running(record.id):
            raise Conflict(f"cannot join the network namespace of {ref}: it is not running")
        return int(self.index.info(record).pid)

    async def create(
        self, name: str | None, body: api.ContainerCreate
    ) -> api.ContainerCreateResponse:
        if not body.image:
            raise InvalidParameter("config has no image: give Image")
        if name is not None and not _NAME.match(name):
            raise InvalidParameter(f"Invalid container name ({name})")
        on_unhealthy(body.labels)  # refuses a bad io.pycompose.on-unhealthy before any work
        takeover(body.labels)  # and a bad io.pycompose.takes-over
        image = self.images.resolve(body.image)
        image_config = api.ImageConfig.model_validate(
            strip_nulls(self.images.config(image).get("config") or {})
        )
        raw = body.wire()
        container_id = secrets.token_hex(32)
        name = (name or _random_name()).lstrip("/")
        created = time.time()
        self.index.state.begin_container(container_id, name, body.image, image.id, raw, created)
        self.index.put(
            ContainerRecord(container_id, name, "creating", created, body.image, image.id, raw)
        )
        target = self.index.rootfs(container_id)
        try:
            target.mkdir(parents=True, exist_ok=True)
            await self.images.mount_rootfs(container_id, image, target)
            volume_paths = await prepare_mounts(
                self.volumes, container_id, body, image_config, target
            )
            attachment = Attachment({}, {})
            if self.networking is not None:
                attachment = await self.networking.attach(
                    container_id, name, body, self._pid_of, lambda ref: self.index.find(ref).id
                )
            await self.runtime.create(
                body,
                image_config,
                name=name,
                container_id=container_id,
                rootfs=str(target),
                volume_paths=volume_paths,
                namespace_paths=attachment.namespace_paths,
                etc_files=attachment.etc_files,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.dispose(container_id, force=True, remove_volumes=True)
            raise
        self.index.state.set_container_status(container_id, "created")
        record = ContainerRecord(container_id, name, "created", created, body.image, image.id, raw)
        self.index.put(record)
        self.events.container(record, "create")
        return api.ContainerCreateResponse(Id=container_id)

    # --- run state ------------------------------------------------------------------

    async def _ensure_rootfs(self, record: ContainerRecord) -> None:
        """After a host reboot the overlay is gone: mount it again before a start."""
        target = self.index.rootfs(record.id)
        if not os.path.ismount(target):
            target.mkdir(parents=True, exist_ok=True)
            await self.images.mount_rootfs(record.id, record.image_id, target)

    async def start(self, ref: str) -> None:
        record = self.index.find(ref)
        if self.index.running(record.id):
            return
        await self._ensure_rootfs(record)
        await anyio.to_thread.run_sync(self.volumes.mount_for, record.id)
        handover = takeovers.source_of(record, self.index)
        if self.networking is not None and handover is None:
            await self.networking.publish(record.id, record.body.get("HostConfig") or {})
        try:
            await self.runtime.start(record.id)
        except BaseException:
            if self.networking is not None:
                with anyio.CancelScope(shield=True):
                    await self.networking.unpublish(record.id)
            raise
        self.events.container(record, "start")
        self._watch(record.id)
        if handover is not None:
            self.task_group.start_soon(takeovers.take_over_when_ready, self, record, *handover)

    def watch(self, container_id: str) -> None:
        """Report the container's next ``die`` (after the engine restarted it itself)."""
        self._watch(container_id)

    def _watch(self, container_id: str) -> None:
        if container_id in self._watched:
            return
        self._watched.add(container_id)
        self.task_group.start_soon(self._watch_exit, container_id)

    async def _watch_exit(self, container_id: str) -> None:
        """Emit ``die`` when the container stops; honour AutoRemove."""
        try:
            code = await self.runtime.wait(container_id, "not-running")
        except NotFound:
            self._watched.discard(container_id)
            return
        self._watched.discard(container_id)
        self._last_exit[container_id] = code
        record = self.index.records.get(container_id)
        if record is None:
            return
        try:
            reason = self.runtime.inspect(container_id).exit_reason
        except NotFound:
            reason = ""
        self.events.container(
            record, "die", exitCode=str(code), **({"reason": reason} if reason else {})
        )
        host_config = record.body.get("HostConfig") or {}
        if host_config.get("AutoRemove"):
            # ``docker run --rm`` reads the output through attach: let it finish first
            with anyio.move_on_after(10):
                while self.attached.is_attached(container_id):
                    await anyio.sleep(0.02)
        if host_config.get("AutoRemove") and not self.index.running(container_id):
            with contextlib.suppress(EngineError):
                await self.remove(container_id, force=True, volumes=True)

    async def stop(self, ref: str, timeout: int | None, signal: str) -> None:
        record = self.index.find(ref)
        if not self.index.running(record.id):
            return
        await self.runtime.stop(record.id, None if timeout is None else float(timeout), signal)
        if self.networking is not None:
            await self.networking.unpublish(record.id)  # host ports are free again, as Docker
        self.events.container(record, "stop")

    async def restart(self, ref: str, timeout: int | None) -> None:
        record = self.index.find(ref)
        if self.index.running(record.id):
            await self.runtime.stop(record.id, None if timeout is None else float(timeout))
            if self.networking is not None:
                await self.networking.unpublish(record.id)
        await self.start(record.id)
        self.events.container(record, "restart")

    async def kill(self, ref: str, signal: str) -> None:
        record = self.index.find(ref)
        if not self.index.running(record.id):
            raise Conflict(f"Cannot kill container: {ref}: Container {record.id} is not running")
        await self.runtime.kill(record.id, signal or "SIGKILL")
        self.events.container(record, "kill", signal=signal or "SIGKILL")

    async def pause(self, ref: str) -> None:
        record = self.index.find(ref)
        await self.runtime.pause(record.id)
        self.events.container(record, "pause")

    async def unpause(self, ref: str) -> None:
        record = self.index.find(ref)
        await self.runtime.unpause(record.id)
        self.events.container(record, "unpause")

    async def wait(self, ref: str, condition: str) -> Callable[[], Awaitable[api.WaitResponse]]:
        record = self.index.find(ref)
        started_before = self.index.info(record).started_at
        running_now = self.index.running(record.id)

        async def wait() -> api.WaitResponse:
            try:
                if condition == "next-exit" and not running_now:
                    # The runtime's next-exit polls for the start and misses a run shorter
                    # than its poll (``docker run busybox true``): wait for a later start
                    # here, then for its end, which is recorded even if it came first.
                    while self.index.info(record).started_at <= started_before:
                        await anyio.sleep(0.02)
                    condition_now = "not-running"
                else:
                    condition_now = condition
                code = await self.runtime.wait(record.id, condition_now)
            except NotFound:  # removed meanwhile (AutoRemove): its last exit code
                code = self._last_exit.get(record.id, 0)
            return api.WaitResponse(StatusCode=code)

        return wait

    # --- remove, rename, prune ------------------------------------------------------

    async def remove(self, ref: str, *, force: bool, volumes: bool) -> None:
        record = self.index.find(ref)
        if self.index.running(record.id) and not force:
            raise Conflict(
                f"You cannot remove a running container {record.id}. "
                "Stop the container before attempting removal or force remove"
            )
        self.index.state.set_container_status(record.id, "removing")
        self.index.put(dataclasses.replace(record, status="removing"))
        with anyio.CancelScope(shield=True):
            await self.dispose(record.id, force=True, remove_volumes=volumes)
        self.events.container(record, "destroy")

    async def rename(self, ref: str, new_name: str) -> None:
        record = self.index.find(ref)
        new_name = new_name.lstrip("/")
        if not _NAME.match(new_name):
            raise InvalidParameter(f"Invalid container name ({new_name})")
        self.index.state.rename_container(record.id, new_name)
        self.runtime.rename(record.id, new_name)
        self.index.put(dataclasses.replace(record, name=new_name))
        self.events.container(record, "rename", oldName="/" + record.name)

    async def prune(self, filters: Filters) -> api.ContainerPrune:
        deleted = []
        for record in list(self.index.records.values()):
            if record.status != "created" or self.index.running(record.id):
                continue
            if not api.labels_match(record.body.get("Labels") or {}, filters.get("label", ())):
                continue
            with contextlib.suppress(NotFound):
                await self.remove(record.id, force=False, volumes=False)
                deleted.append(record.id)
        return api.ContainerPrune(ContainersDeleted=deleted or None, SpaceReclaimed=0)

    # --- processes, output, files ---------------------------------------------------

    async def logs(self, ref: str, options: LogOptions) -> LogStream:
        record = self.index.find(ref)
        tty = bool(record.body.get("Tty"))
        log_config = (record.body.get("HostConfig") or {}).get("LogConfig") or {}
        if log_config.get("Type") == "none":  # refused before the answer starts
            raise Unsupported(
                "configured logging driver does not support reading",
                hint="the container's logging driver is none: its output is not kept",
            )
        entries = self.runtime.logs(
            record.id,
            follow=options.follow,
            tail=options.tail,
            since=options.since,
            until=options.until,
        )

        async def lines() -> AsyncIterator[tuple[int, bytes]]:
            async for entry in entries:
                stream = STREAM_NUMBERS.get(entry.stream, 1)
                if (stream == 1 and not options.stdout) or (stream == 2 and not options.stderr):
                    continue
                data = entry.message + b"\n"
                if options.timestamps:
                    data = entry.timestamp().encode() + b" " + data
                yield stream, data

        return LogStream(tty, lines())

    async def top(self, ref: str, ps_args: str) -> api.ContainerTop:
        record = self.index.find(ref)
        if not self.index.running(record.id):
            raise Conflict(f"Container {record.id} is not running")
        pids = _cgroup_pids(self.index.info(record).pid)
        result = await anyio.run_process(
            ["ps", "-o", "user:16,pid,ppid,c,stime,tty,time,cmd", "-p", ",".join(map(str, pids))],
            check=False,
        )
        lines = result.stdout.decode(errors="replace").splitlines()
        if not lines:
            return api.ContainerTop(Titles=[], Processes=[])
        titles = ["UID" if t == "USER" else t for t in lines[0].split()]
        processes = [line.split(None, len(titles) - 1) for line in lines[1:]]
        return api.ContainerTop(Titles=titles, Processes=processes)

    async def stats(self, ref: str) -> dict[str, Any]:
        """One stats document; the CPU delta is measured over half a second."""
        record = self.index.find(ref)
        pid = self.index.info(record).pid if self.index.running(record.id) else 0
        first = await anyio.to_thread.run_sync(stats.sample, pid)
        if pid:
            await anyio.sleep(0.5)
        second = await anyio.to_thread.run_sync(stats.sample, pid)
        return stats.stats_document(first, second, record.name, record.id)

    async def resize(self, ref: str, height: int, width: int) -> None:
        record = self.index.find(ref)
        if not self.index.running(record.id):
            raise Conflict(f"Container {record.id} is not running")
        if height > 0 and width > 0:
            self.runtime.resize(record.id, height, width)

    async def attach(self, ref: str, options: AttachOptions) -> AttachSession:
        record = self.index.find(ref)
        return AttachSession(self.runtime, record, options, self.attached)

    async def _archive_root(self, record: ContainerRecord) -> str:
        """Where ``docker cp`` looks: the running container's own view (volumes included),
        else its overlay root (see engine.daemon.archive)."""
        if self.index.running(record.id):
            return f"/proc/{self.index.info(record).pid}/root"
        await self._ensure_rootfs(record)
        return str(self.index.rootfs(record.id))

    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        record = self.index.find(ref)
        return await archive.stat_path(await self._archive_root(record), path, ref)

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        record = self.index.find(ref)
        stat, tar = await archive.read_path(await self._archive_root(record), path, ref)
        self.events.container(record, "archive-path")
        return stat, tar

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        """``docker export``: the container's own file system (its overlay root, without
        the volumes, binds and /proc that a running container sees), as a tar stream."""
        record = self.index.find(ref)
        await self._ensure_rootfs(record)
        _, tar = await archive.read_path(str(self.index.rootfs(record.id)), "/", ref)
        self.events.container(record, "export")
        return tar

    async def commit(self, ref: str, options: CommitOptions) -> str:
        """``docker commit``: paused meanwhile when asked and running (as dockerd)."""
        if not ref:
            raise InvalidParameter("no container given: set container=")
        record = self.index.find(ref)
        pause = options.pause and self.index.info(record).state is ContainerState.RUNNING
        if pause:
            await self.pause(record.id)
        try:
            image = await commit.commit(
                self.images,
                self.images.resolve(record.image_id),
                record.body,
                record.id,
                self.runtime.root / record.id,
                options,
            )
            # dockerd's order: pause, tag, commit, unpause
            reference = ""
            if image.repo_tags:
                reference = parse_reference(image.repo_tags[0]).familiar()
                self.events.emit("image", "tag", image.id, {"name": reference})
            self.events.container(
                record, "commit", comment=options.comment, imageID=image.id, imageRef=reference
            )
        finally:
            if pause:
                with anyio.CancelScope(shield=True), contextlib.suppress(EngineError):
                    await self.unpause(record.id)
        return image.id

    async def archive_put(
        self, ref: str, path: str, tar: AsyncIterator[bytes], *, no_overwrite_dir: bool = False
    ) -> None:
        record = self.index.find(ref)
        await archive.write_path(
            await self._archive_root(record),
            path,
            ref,
            tar,
            no_overwrite_dir_non_dir=no_overwrite_dir,
        )
        self.events.container(record, "extract-to-dir")


def _remove_tree(directory: Path) -> None:
    """Delete a directory, after unmounting anything still mounted below it."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{directory}/")), reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(2)}"


def _cgroup_pids(pid: int) -> list[int]:
    """The processes of the container whose init is ``pid`` (its cgroup's members)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers in ("", "pids", "memory") or "pids" in controllers.split(","):
                base = "/sys/fs/cgroup" if controllers == "" else f"/sys/fs/cgroup/{controllers}"
                procs = Path(base + path) / "cgroup.procs"
                if procs.exists():
                    return [int(p) for p in procs.read_text().split()]
    return [pid]
