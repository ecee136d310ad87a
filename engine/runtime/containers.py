"""ContainerRuntime: create, start, stop, kill, restart, pause, wait, exec, logs, remove.

Lifecycle: ``create`` writes the bundle (config.json from engine.runtime.spec) in the
container's directory; ``start`` hands the container to engine.runtime.supervisor, which
launches conmon and runc, waits for the exit, runs health checks meanwhile and applies the
restart policy; ``remove`` deletes the runtime state, unmounts what ``create`` mounted and
removes the directory. Exec and logs are in engine.runtime.container_io, stop, kill and pause in
engine.runtime.signalling, the record of a container in engine.runtime.container_record.

Glossary: *container directory* ``<root>/containers/<id>`` (bundle, log, monitor files,
``container.json`` record); *run* one start of the process (a restart is a new run).

Concurrency: the runtime owns one task group (``async with ContainerRuntime(...)``);
supervisors, the log rotator and restart back-offs live in it. Leaving the context stops
supervising but leaves containers running under conmon; :meth:`restore` finds them again.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import signal as signals
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from engine.api.models import ContainerCreate, ImageConfig
from engine.errors import Conflict, InvalidParameter, NotFound
from engine.file_modes import PRIVATE_DIR, private_directory, write_private
from engine.runtime import beneath, bundle, monitor, signalling
from engine.runtime import logs as logfiles
from engine.runtime.container_io import exec_files, read_logs, rotate_logs, run_exec
from engine.runtime.container_record import (
    RECORD_FILE,
    ContainerInfo,
    ContainerRecord,
    ExecResult,
    RuntimeEvent,
)
from engine.runtime.exec_session import ExecSession
from engine.runtime.mounts import user_mounts
from engine.runtime.resources import block_device_paths
from engine.runtime.runc import Runc, RuntimeExitError
from engine.runtime.sharing import joined_namespaces, volumes_from
from engine.runtime.spec import SpecContext, build_spec, merge_image_config
from engine.runtime.state import ContainerState, check_transition
from engine.runtime.supervisor import Supervisor

TRASH_PREFIX = ".removed-"
ROTATE_CHECK_SECONDS = 1.0
S = ContainerState


async def _delete_tree(path: Path) -> None:
    """Delete a removed container's directory (not cancellable: it runs to its end)."""
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


class ContainerRuntime:
    """Containers of one engine, under ``root`` (``<data root>/containers``)."""

    def __init__(
        self,
        root: str | Path,
        *,
        runc: Runc | None = None,
        conmon: str | None = None,
        init_path: str | None = None,
        socket_dir: str = monitor.DEFAULT_SOCKET_DIR,
        on_event: Callable[[RuntimeEvent], None] | None = None,
    ) -> None:
        """``on_event`` is called (synchronously, so it must not block) for each event."""
        self.root = Path(root)
        self._on_event = on_event
        self.runc = runc or Runc()
        self.conmon = conmon or monitor.find_conmon()
        self.init_path = init_path or bundle.find_init()
        self.socket_dir = socket_dir
        self._supervisor = Supervisor(
            self.runc, self.conmon, socket_dir, emit=self._emit, tasks=lambda: self._tasks
        )
        self._containers: dict[str, ContainerRecord] = {}
        self.restarts_wanted: list[str] = []  # see restore(defer_restarts=True)
        self._task_group: TaskGroup | None = None
        self._machine = platform.machine()
        self._kernel = platform.release()
        self._cgroup_version = 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1
        self._swap = (
            self._cgroup_version == 2
            or Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        )
        v1 = self._cgroup_version == 1
        self._swappiness = v1 and Path("/sys/fs/cgroup/memory/memory.swappiness").exists()
        self._realtime = v1 and Path("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists()
        self._blkio_weight = (
            Path("/sys/fs/cgroup/blkio/blkio.weight").exists()
            or Path("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists()
            or (not v1 and "io" in bundle.read_text(Path("/sys/fs/cgroup/cgroup.controllers")))
        )

    # --- context ----------------------------------------------------------------------

    async def __aenter__(self) -> ContainerRuntime:
        private_directory(self.root)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._rotate_logs_forever)
        for trash in self.root.glob(f"{TRASH_PREFIX}*"):  # left by an engine that stopped
            self._task_group.start_soon(_delete_tree, trash)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        result = await self._task_group.__aexit__(exc_type, exc, traceback)
        self._task_group = None
        return result

    @property
    def _tasks(self) -> TaskGroup:
        if self._task_group is None:
            raise RuntimeError("use ContainerRuntime inside 'async with'")
        return self._task_group

    def _emit(self, container: ContainerRecord, action: str, **attributes: str) -> None:
        if self._on_event is not None:
            self._on_event(
                RuntimeEvent(time.time(), container.id, container.name, action, attributes)
            )

    # --- lookup -----------------------------------------------------------------------

    def _get(self, ref: str) -> ContainerRecord:
        container = self._containers.get(ref)
        if container is not None:
            return container
        matches = [c for c in self._containers.values() if c.name == ref.lstrip("/")]
        if not matches:
            matches = [c for c in self._containers.values() if c.id.startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple containers match {ref!r}: give more of the id")
        raise NotFound(f"no such container: {ref}")

    def inspect(self, ref: str) -> ContainerInfo:
        return self._get(ref).info()

    def all(self) -> list[ContainerInfo]:
        return [self.inspect(container_id) for container_id in sorted(self._containers)]

    # --- create -----------------------------------------------------------------------

    async def create(
        self,
        config: ContainerCreate,
        image: ImageConfig | None = None,
        *,
        name: str = "",
        container_id: str = "",
        rootfs: str = "",
        rootfs_mounts: Sequence[Mapping[str, Any]] = (),
        volume_paths: Mapping[str, str] = {},
        extra_mounts: Sequence[dict[str, Any]] = (),
        namespace_paths: Mapping[str, str] = {},
        etc_files: Mapping[str, str] = {},
    ) -> ContainerInfo:
        """Write the bundle of a new container; it is ``created``, not running.

        Args:
            rootfs: the root file system's directory, or ``""`` with ``rootfs_mounts``
                (OCI-style ``{"type", "source", "options"}``, e.g. one overlay) which are
                mounted on ``<dir>/rootfs`` now and unmounted by :meth:`remove`.
            volume_paths: host directory of each named volume (and of each anonymous
                volume under ``"anonymous:<target>"``), see engine.volumes.
            namespace_paths: ``{"network": "/run/netns/x", "ipc": "/proc/<pid>/ns/ipc"}``.
            etc_files: contents for /etc/hosts, /etc/resolv.conf, /etc/hostname
                (bind-mounted as Docker does); defaults are written otherwise.

        Error handling: a name in use is a Conflict; a bad setting InvalidParameter.
        """
        container_id = container_id or secrets.token_hex(32)
        name = (name or container_id[:12]).lstrip("/")
        if any(c.name == name for c in self._containers.values()):
            raise Conflict(
                f'the container name "/{name}" is already in use',
                hint="remove or rename that container, or choose another name",
            )
        if container_id in self._containers:
            raise Conflict(f"container id {container_id} exists")
        image = image or ImageConfig()
        merged = merge_image_config(config, image)
        bundle.log_driver(merged)  # refused before anything is made
        directory = self.root / container_id
        directory.mkdir(mode=PRIVATE_DIR, parents=True)
        mounted = False
        try:
            if not rootfs:
                if not rootfs_mounts:
                    raise InvalidParameter("a container needs a root file system")
                rootfs = str(directory / "rootfs")
                os.mkdir(rootfs)
                for mount in rootfs_mounts:
                    await bundle.mount(mount, rootfs)
                    mounted = True
            etc_mounts = bundle.write_etc_files(
                directory,
                merged.hostname or container_id[:12],
                read_only=merged.host_config.readonly_rootfs,
                overrides=etc_files,
            )
            anonymous = [t for t in merged.volumes or {} if f"anonymous:{t}" in volume_paths]
            mounts, staged = beneath.plan_staging(
                [
                    *etc_mounts,
                    *user_mounts(merged.host_config, volume_paths, anonymous),
                    *extra_mounts,
                    *volumes_from(self._get, merged.host_config.volumes_from or []),
                ],
                directory,
            )
            beneath.save(directory, staged)
            root = Path(rootfs)
            context = SpecContext(
                container_id=container_id,
                rootfs=rootfs,
                passwd_text=bundle.read_text(root / "etc/passwd"),
                group_text=bundle.read_text(root / "etc/group"),
                mounts=mounts,
                namespace_paths={
                    **joined_namespaces(self._get, merged.host_config),
                    **namespace_paths,
                },
                host_devices=bundle.host_devices(merged.host_config),
                init_path=self.init_path,
                cgroup_version=self._cgroup_version,
                machine=self._machine,
                kernel=self._kernel,
                swap_supported=self._swap,
                swappiness_supported=self._swappiness,
                realtime_supported=self._realtime,
                blkio_weight_supported=self._blkio_weight,
                block_devices=bundle.stat_devices(block_device_paths(merged.host_config)),
            )
            spec = build_spec(merged, ImageConfig(), context)
            bundle.mkdir_in_root(rootfs, spec["process"]["cwd"])
            bundle.write_docker_files(rootfs)
            # compact: json's C encoder (indenting takes its pure-Python one, ~10 ms here)
            write_private(directory / "config.json", json.dumps(spec, separators=(",", ":")))
        except BaseException:
            with anyio.CancelScope(shield=True):
                if mounted:
                    await bundle.unmount(str(directory / "rootfs"))
                if not os.path.ismount(directory / "rootfs"):
                    shutil.rmtree(directory, ignore_errors=True)
            raise
        container = ContainerRecord.of_config(
            merged,
            id=container_id,
            name=name,
            directory=directory,
            rootfs=rootfs,
            mounted_rootfs=mounted,
        )
        container.stopped.set()
        self._containers[container_id] = container
        container.save()
        self._emit(container, "create")
        return self.inspect(container_id)

    # --- start, supervision -----------------------------------------------------------

    async def start(self, ref: str) -> None:
        """Start a created or exited container. Starting a running one is a no-op."""
        container = self._get(ref)
        if container.state in (S.RUNNING, S.PAUSED):
            return
        check_transition(container.id, container.state, S.RUNNING)
        if container.backoff is not None:
            container.backoff.cancel()
        container.cancelled = False
        container.manually_stopped = False
        container.restart.restart_count = 0
        container.restart.delay = 0.0
        await self._supervisor.run(container)

    # --- stop, kill, restart, pause ---------------------------------------------------

    async def stop(self, ref: str, timeout: float | None = None, signal: str = "") -> bool:
        """Stop signal, ``timeout`` seconds of grace, then SIGKILL. False if not running."""
        return await signalling.stop(self.runc, self._get(ref), self._emit, timeout, signal)

    async def kill(self, ref: str, signal: str | int = "SIGKILL") -> None:
        await signalling.kill(self.runc, self._get(ref), self._emit, signal)

    async def restart(self, ref: str, timeout: float | None = None) -> None:
        await self.stop(ref, timeout)
        await self.start(ref)
        self._emit(self._get(ref), "restart")

    async def pause(self, ref: str) -> None:
        await signalling.set_paused(self.runc, self._get(ref), self._emit, paused=True)

    async def unpause(self, ref: str) -> None:
        await signalling.set_paused(self.runc, self._get(ref), self._emit, paused=False)

    async def wait(self, ref: str, condition: str = "not-running") -> int:
        """Docker's wait: ``not-running`` (default), ``next-exit`` or ``removed``."""
        container = self._get(ref)
        if condition == "removed":
            await container.removed.wait()
            return container.exit_code
        if condition == "next-exit":
            # The run under way, or else the next one, however short it is.
            target = container.runs_started + (1 if container.stopped.is_set() else 0)
            while container.runs_ended < target and not container.removed.is_set():
                with anyio.move_on_after(1.0):  # also notices a removal
                    await container.run_ended.wait()
            return container.exit_code
        await container.stopped.wait()
        return container.exit_code

    def rename(self, ref: str, new_name: str) -> None:
        container = self._get(ref)
        new_name = new_name.lstrip("/")
        if any(c.name == new_name and c is not container for c in self._containers.values()):
            raise Conflict(f'the container name "/{new_name}" is already in use')
        old_name = container.name
        container.name = new_name
        container.save()
        self._emit(container, "rename", oldName=f"/{old_name}")

    async def remove(self, ref: str, *, force: bool = False) -> None:
        """Remove a stopped container (``force``: kill it first)."""
        container = self._get(ref)
        if container.state in (S.RUNNING, S.PAUSED) and not force:
            raise Conflict(
                f"cannot remove container {container.name}: container is {container.state.value}",
                hint="stop the container before removing or use force",
            )
        if container.state is S.REMOVING:
            raise Conflict(f"removal of container {container.id[:12]} is already in progress")
        container.cancelled = True
        if container.backoff is not None:
            container.backoff.cancel()
        was_running = container.state in (S.RUNNING, S.PAUSED)
        was_paused = container.state is S.PAUSED
        container.state = S.REMOVING
        with anyio.CancelScope(shield=True):
            if was_running:
                with contextlib.suppress(NotFound, RuntimeExitError):
                    await self.runc.kill(container.id, signals.SIGKILL, all_processes=True)
                if was_paused:  # a frozen process dies only once thawed
                    with contextlib.suppress(NotFound, RuntimeExitError):
                        await self.runc.resume(container.id)
                with anyio.move_on_after(10):
                    await container.stopped.wait()
            if self.runc.has_state(container.id):
                with contextlib.suppress(NotFound, RuntimeExitError):
                    await self.runc.delete(container.id, force=True)
            if container.mounted_rootfs:
                await bundle.unmount(container.rootfs)
                if os.path.ismount(container.rootfs):
                    # Never delete through a mount: that would reach the image's layers.
                    container.state = S.DEAD
                    container.error = f"cannot unmount {container.rootfs}"
                    container.save()
                    raise Conflict(
                        f"cannot remove container {container.name}: its root is still mounted",
                        hint=f"unmount {container.rootfs} and remove it again",
                    )
            beneath.unstage(container.directory)  # the directory is deleted, not a volume
            link = os.path.join(self.socket_dir, container.id)
            if os.path.islink(link):
                os.unlink(link)
            # Renamed now, deleted in the background: unlinking a dozen files can take tens
            # of milliseconds (file systems mounted with discard), and nothing waits on it.
            trash = self.root / f"{TRASH_PREFIX}{container.id}"
            os.rename(container.directory, trash)
            self._tasks.start_soon(_delete_tree, trash)
        del self._containers[container.id]
        container.removed.set()
        self._emit(container, "destroy")

    # --- attach -----------------------------------------------------------------------

    def attach(self, ref: str) -> monitor.AttachConnection:
        """Connect to a running container's stdin (when ``open_stdin``) and output."""
        container = self._get(ref)
        if container.state not in (S.RUNNING, S.PAUSED):
            raise Conflict(f"container {container.id[:12]} is not running: cannot attach")
        return monitor.AttachConnection(monitor.attach_path(self.socket_dir, container.id))

    def resize(self, ref: str, height: int, width: int) -> None:
        """Set the size of a running container's terminal (nothing without one)."""
        container = self._get(ref)
        if container.config.tty and container.state in (S.RUNNING, S.PAUSED):
            monitor.request_resize(container.paths, height, width)

    def rewrite_etc_file(self, ref: str, target: str, content: str) -> None:
        """New content for one of the container's bind-mounted /etc files (``/etc/hosts``,
        ``/etc/resolv.conf``, ``/etc/hostname``), seen at once inside it."""
        if target not in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname"):
            raise InvalidParameter(f"{target} is not one of the container's /etc files")
        bundle.rewrite_etc_file(self._get(ref).directory, target, content)

    # --- exec -------------------------------------------------------------------------

    async def exec(
        self,
        ref: str,
        command: Sequence[str],
        *,
        env: Sequence[str] = (),
        user: str = "",
        working_dir: str = "",
        stdin: bytes | None = None,
        privileged: bool = False,
    ) -> ExecResult:
        """Run ``command`` in the running container; its exit code and output."""
        container = self._get(ref)
        if container.state is not S.RUNNING:
            raise Conflict(
                f"container {container.id[:12]} is not running",
                hint="start the container (exec needs a running one)",
            )
        return await run_exec(
            self.runc,
            container,
            list(command),
            env=env,
            user=user,
            working_dir=working_dir,
            stdin=stdin,
            privileged=privileged,
        )

    def exec_session(
        self,
        ref: str,
        command: Sequence[str],
        *,
        tty: bool = False,
        env: Sequence[str] = (),
        user: str = "",
        working_dir: str = "",
        privileged: bool = False,
    ) -> ExecSession:
        """An interactive exec: ``async with runtime.exec_session(...) as session:`` then
        ``send``/``receive``/``wait`` (see engine.runtime.exec_session)."""
        container = self._get(ref)
        if container.state is not S.RUNNING:
            raise Conflict(f"container {container.id[:12]} is not running")
        process_file, pid_file = exec_files(
            container, list(command), env, user, working_dir, privileged, tty
        )
        return ExecSession(self.runc, container.id, process_file, pid_file, tty=tty)

    # --- logs -------------------------------------------------------------------------

    async def logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float = 0.0,
        until: float = 0.0,
        as_written: bool = False,
    ) -> AsyncIterator[logfiles.LogEntry]:
        """The container's log lines (whole), oldest first; ``since``/``until`` in seconds
        (``as_written``: see :func:`engine.runtime.container_io.read_logs`)."""
        container = self._get(ref)
        async for entry in read_logs(
            container, follow=follow, tail=tail, since=since, until=until, as_written=as_written
        ):
            yield entry

    async def _rotate_logs_forever(self) -> None:
        while True:
            await anyio.sleep(ROTATE_CHECK_SECONDS)
            await rotate_logs(list(self._containers.values()))

    # --- persistence ------------------------------------------------------------------

    async def restore(self, *, defer_restarts: bool = False) -> list[str]:
        """Load the containers under ``root`` (after an engine restart); their ids.

        A container whose conmon is still alive is running again under supervision; one
        that exited meanwhile gets its exit code from conmon's exit file (255 if none, as
        after a reboot), and its restart policy applies as after any exit; with
        ``defer_restarts`` it is left exited and its id put in :attr:`restarts_wanted`, for
        the caller to start them in dependency order.
        """
        restored: list[str] = []
        for record_path in sorted(self.root.glob(f"*/{RECORD_FILE}")):
            if record_path.parent.name.startswith(TRASH_PREFIX):
                continue
            container = ContainerRecord.load(record_path)
            if container.id in self._containers:
                continue
            self._containers[container.id] = container
            restored.append(container.id)
            if container.state in (S.RUNNING, S.PAUSED, S.RESTARTING):
                alive = monitor.conmon_alive(container.paths)
                if alive and monitor.read_exit_code(container.paths) is None:
                    container.pid = monitor.read_pid(container.paths.container_pid) or 0
                    container.runs_started = 1
                    self._tasks.start_soon(self._supervisor.supervise, container)
                    continue
                wanted = await self._supervisor.on_exit(
                    container,
                    monitor.read_exit_code(container.paths) or 255,
                    defer_restart=defer_restarts,
                )
                if wanted and defer_restarts:
                    self.restarts_wanted.append(container.id)
            else:
                container.stopped.set()
        return restored
