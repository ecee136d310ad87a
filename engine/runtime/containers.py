"""ContainerRuntime: create, start, stop, kill, restart, pause, wait, exec, logs, remove.

Lifecycle: ``create`` writes the bundle (config.json from engine.runtime.spec) in the
container's directory; ``start`` launches conmon (which runs ``runc create``) and then
``runc start``; one supervisor task per started container waits for the exit (recorded by
conmon), runs health checks meanwhile, and applies the restart policy; ``remove`` deletes
the runtime state, unmounts what ``create`` mounted and removes the directory.

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
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from engine.api.errors import Conflict, InvalidParameter, NotFound
from engine.file_modes import PRIVATE_DIR, private_directory, write_private
from engine.runtime import beneath, bundle, monitor
from engine.runtime import logs as logfiles
from engine.runtime.config import ContainerConfig, HostConfig, ImageConfig
from engine.runtime.exec_session import ExecSession
from engine.runtime.mounts import user_mounts
from engine.runtime.runc import Runc, RuntimeExitError, signal_number
from engine.runtime.spec import (
    SpecContext,
    build_spec,
    exec_process,
    merge_image_config,
)
from engine.runtime.state import (
    ContainerState,
    HealthProbe,
    HealthResult,
    HealthState,
    HealthStatus,
    RestartManager,
    check_transition,
)

DEFAULT_STOP_TIMEOUT = 10.0
TRASH_PREFIX = ".removed-"
ROTATE_CHECK_SECONDS = 1.0
S = ContainerState


@dataclass(frozen=True, slots=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """What happened to a container, in Docker's event vocabulary (``die``, ``oom``,
    ``health_status: healthy``...); ``attributes`` as Docker's (``exitCode``, ``signal``)."""

    time: float
    container_id: str
    name: str
    action: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """A snapshot of a container, for inspect and list."""

    id: str
    name: str
    state: ContainerState
    pid: int
    exit_code: int
    oom_killed: bool
    error: str
    created_at: float
    started_at: float
    finished_at: float
    restart_count: int
    health: HealthStatus
    health_failing_streak: int
    health_log: tuple[HealthResult, ...]
    config: ContainerConfig
    directory: Path
    log_path: Path


@dataclass(slots=True)
class _Container:
    """The runtime's own record of a container (mutated only by ContainerRuntime)."""

    id: str
    name: str
    config: ContainerConfig
    directory: Path
    rootfs: str
    mounted_rootfs: bool
    state: ContainerState = S.CREATED
    pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    created_at: float = field(default_factory=time.time)
    started_at: float = 0.0
    finished_at: float = 0.0
    cancelled: bool = False
    manually_stopped: bool = False
    restart: RestartManager = field(default_factory=RestartManager)
    probe: HealthProbe | None = None
    health: HealthState | None = None
    stopped: anyio.Event = field(default_factory=anyio.Event)
    removed: anyio.Event = field(default_factory=anyio.Event)
    backoff: anyio.CancelScope | None = None
    log_max_size: int = bundle.DEFAULT_LOG_MAX_SIZE
    log_max_files: int = bundle.DEFAULT_LOG_MAX_FILES
    exec_count: int = 0
    runs_started: int = 0  # runs begun, and runs whose end was recorded: ``wait``
    runs_ended: int = 0  # ("next-exit") compares them, so no short run is missed
    run_ended: anyio.Event = field(default_factory=anyio.Event)

    def record_end_of_run(self) -> None:
        self.runs_ended = self.runs_started
        self.stopped.set()
        ended, self.run_ended = self.run_ended, anyio.Event()
        ended.set()

    @property
    def paths(self) -> monitor.MonitorPaths:
        return monitor.MonitorPaths(self.directory, self.id)

    def transition(self, target: ContainerState) -> None:
        check_transition(self.id, self.state, target)
        self.state = target


async def _delete_tree(path: Path) -> None:
    """Delete a removed container's directory (not cancellable: it runs to its end)."""
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


def _probe_of(config: ContainerConfig) -> HealthProbe | None:
    health = config.healthcheck
    if health is None:
        return None
    return HealthProbe.from_test(
        health.test,
        interval_ns=health.interval,
        timeout_ns=health.timeout,
        retries=health.retries,
        start_period_ns=health.start_period,
        start_interval_ns=health.start_interval,
    )


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
        self._containers: dict[str, _Container] = {}
        self._task_group: TaskGroup | None = None
        self._machine = platform.machine()
        self._kernel = platform.release()
        self._cgroup_version = 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1
        self._swap = (
            self._cgroup_version == 2
            or Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
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

    def _emit(self, container: _Container, action: str, **attributes: str) -> None:
        if self._on_event is not None:
            self._on_event(
                RuntimeEvent(time.time(), container.id, container.name, action, attributes)
            )

    # --- lookup -----------------------------------------------------------------------

    def _get(self, ref: str) -> _Container:
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
        container = self._get(ref)
        health = container.health
        return ContainerInfo(
            id=container.id,
            name=container.name,
            state=container.state,
            pid=container.pid,
            exit_code=container.exit_code,
            oom_killed=container.oom_killed,
            error=container.error,
            created_at=container.created_at,
            started_at=container.started_at,
            finished_at=container.finished_at,
            restart_count=container.restart.restart_count,
            health=health.status if health else HealthStatus.NONE,
            health_failing_streak=health.failing_streak if health else 0,
            health_log=tuple(health.log) if health else (),
            config=container.config,
            directory=container.directory,
            log_path=container.paths.log,
        )

    def all(self) -> list[ContainerInfo]:
        return [self.inspect(container_id) for container_id in sorted(self._containers)]

    # --- create -----------------------------------------------------------------------

    async def create(
        self,
        config: ContainerConfig,
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
            anonymous = [t for t in merged.volumes if f"anonymous:{t}" in volume_paths]
            mounts, staged = beneath.plan_staging(
                [
                    *etc_mounts,
                    *user_mounts(merged.host_config, volume_paths, anonymous),
                    *extra_mounts,
                    *self._volumes_from(merged.host_config.volumes_from),
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
                    **self._joined_namespaces(merged.host_config),
                    **namespace_paths,
                },
                host_devices=bundle.host_devices(merged.host_config),
                init_path=self.init_path,
                cgroup_version=self._cgroup_version,
                machine=self._machine,
                kernel=self._kernel,
                swap_supported=self._swap,
            )
            spec = build_spec(merged, ImageConfig(), context)
            bundle.mkdir_in_root(rootfs, spec["process"]["cwd"])
            write_private(directory / "config.json", json.dumps(spec, indent=1))
        except BaseException:
            with anyio.CancelScope(shield=True):
                if mounted:
                    await bundle.unmount(str(directory / "rootfs"))
                if not os.path.ismount(directory / "rootfs"):
                    shutil.rmtree(directory, ignore_errors=True)
            raise
        probe = _probe_of(merged)
        policy = merged.host_config.restart_policy
        max_size, max_files = bundle.log_limits(merged)
        container = _Container(
            id=container_id,
            name=name,
            config=merged,
            directory=directory,
            rootfs=rootfs,
            mounted_rootfs=mounted,
            restart=RestartManager(policy.name or "no", policy.maximum_retry_count),
            probe=probe,
            health=HealthState() if probe else None,
            log_max_size=max_size,
            log_max_files=max_files,
        )
        container.stopped.set()
        self._containers[container_id] = container
        self._save(container)
        self._emit(container, "create")
        return self.inspect(container_id)

    def _joined_namespaces(self, host_config: HostConfig) -> dict[str, str]:
        """``container:<name>`` modes -> the running container's namespace files."""
        paths: dict[str, str] = {}
        modes = {
            "pid": host_config.pid_mode,
            "ipc": host_config.ipc_mode,
            "network": host_config.network_mode,
            "uts": host_config.uts_mode,
        }
        for kind, mode in modes.items():
            if not mode.startswith("container:"):
                continue
            other = self._get(mode.removeprefix("container:"))
            if other.state not in (S.RUNNING, S.PAUSED) or not other.pid:
                raise Conflict(
                    f"cannot join the {kind} namespace of container {other.name}: "
                    "it is not running",
                    hint="start that container first",
                )
            paths[kind] = f"/proc/{other.pid}/ns/{'net' if kind == 'network' else kind}"
        return paths

    def _volumes_from(self, sources: Sequence[str]) -> list[dict[str, Any]]:
        """The volumes and binds of other containers (``volumes_from: [name[:ro|rw]]``)."""
        mounts: list[dict[str, Any]] = []
        for source in sources:
            name, _, mode = source.partition(":")
            other = self._get(name)
            spec = json.loads((other.directory / "config.json").read_text())
            own_files = str(other.directory)
            staged = beneath.staging_map(other.directory)
            for mount in spec["mounts"]:
                if mount["source"] in staged:  # a volume subpath: staged anew for this one
                    origin = staged[mount["source"]]
                    mount = {**mount, "source": origin.root, "subpath": origin.subpath}
                elif mount["type"] != "bind" or mount["source"].startswith(own_files):
                    continue
                if mount["destination"] == "/sbin/docker-init":
                    continue
                options = [o for o in mount.get("options", []) if o not in ("ro", "rw")]
                if mode == "ro" or (mode != "rw" and "ro" in mount.get("options", [])):
                    options.append("ro")
                mounts.append({**mount, "options": options})
        return mounts

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
        await self._run(container)

    async def _run(self, container: _Container) -> None:
        """One run: conmon + runc create, runc start, then a supervisor task."""
        if self.runc.has_state(container.id):
            with contextlib.suppress(NotFound):
                await self.runc.delete(container.id, force=True)
        try:
            beneath.stage(container.directory)
        except InvalidParameter as exc:  # e.g. a volume subpath that now leads out of it
            container.error = exc.message
            if container.state is S.RESTARTING:
                container.state = S.EXITED
            self._save(container)
            raise
        try:
            try:
                pid = await monitor.launch(
                    container.paths,
                    self.runc,
                    conmon=self.conmon,
                    name=container.name,
                    tty=container.config.tty,
                    stdin=container.config.open_stdin,
                    leave_stdin_open=not container.config.stdin_once,
                    socket_dir=self.socket_dir,
                )
            finally:
                beneath.unstage(container.directory)
            await self.runc.start(container.id)
        except RuntimeExitError as exc:
            container.error = str(exc)
            container.exit_code = 127 if "not found" in exc.stderr else 126
            container.state = S.EXITED
            container.finished_at = time.time()
            with contextlib.suppress(NotFound, RuntimeExitError):
                await self.runc.delete(container.id, force=True)
            self._save(container)
            raise
        container.pid = pid
        container.runs_started += 1
        container.error = ""
        container.exit_code = 0
        container.oom_killed = False
        container.started_at = time.time()
        container.finished_at = 0.0
        container.state = S.RUNNING
        container.stopped = anyio.Event()
        if container.health is not None:
            container.health.reset()
        self._save(container)
        self._emit(container, "start")
        self._tasks.start_soon(self._supervise, container, name=f"supervise {container.id[:12]}")

    async def _supervise(self, container: _Container) -> None:
        """Wait for the run's end, then record it and apply the restart policy.

        Error handling: a failure here concerns one container only; it is recorded as the
        container's error (state ``dead``) instead of ending the runtime's task group.
        """
        try:
            async with anyio.create_task_group() as run_group:
                if container.probe is not None:
                    run_group.start_soon(self._health_loop, container, container.probe)
                exit_code = await monitor.wait_exit(container.paths)
                run_group.cancel_scope.cancel()
            await self._on_exit(container, exit_code)
        except Exception as exc:  # contained to this container, see above
            container.error = f"supervision failed: {exc}"
            container.state = S.DEAD
            container.record_end_of_run()
            with contextlib.suppress(OSError):
                self._save(container)

    async def _on_exit(self, container: _Container, exit_code: int) -> None:
        container.exit_code = exit_code
        container.oom_killed = monitor.oom_killed(container.paths)
        container.finished_at = time.time()
        container.pid = 0
        if self.runc.has_state(container.id):
            with anyio.CancelScope(shield=True), contextlib.suppress(NotFound, RuntimeExitError):
                await self.runc.delete(container.id, force=True)
        if container.state is S.REMOVING:
            container.record_end_of_run()
            return
        container.state = S.EXITED
        if container.oom_killed:
            self._emit(container, "oom")
        self._emit(container, "die", exitCode=str(exit_code))
        delay = container.restart.should_restart(
            exit_code,
            cancelled=container.cancelled,
            manually_stopped=container.manually_stopped,
            uptime=container.finished_at - container.started_at,
        )
        if delay is not None:
            container.state = S.RESTARTING
        self._save(container)
        container.record_end_of_run()
        if delay is None:
            return
        with anyio.CancelScope() as scope:
            container.backoff = scope
            await anyio.sleep(delay)
        container.backoff = None
        if scope.cancel_called or container.state is not S.RESTARTING:
            return
        try:
            await self._run(container)
        except (RuntimeExitError, InvalidParameter):
            return

    async def _health_loop(self, container: _Container, probe: HealthProbe) -> None:
        health = container.health
        assert health is not None
        while True:
            since_start = time.time() - container.started_at
            await anyio.sleep(probe.next_interval(health.status, since_start))
            if container.state is not S.RUNNING:
                continue
            started = time.time()
            with anyio.move_on_after(probe.timeout) as scope:
                try:
                    result = await self._exec_in(container, list(probe.command))
                except (OSError, RuntimeExitError) as exc:
                    result = ExecResult(-1, b"", str(exc).encode())
            if scope.cancelled_caught:
                record = HealthResult(
                    started, time.time(), -1, f"Health check exceeded timeout ({probe.timeout}s)"
                )
            else:
                output = (result.stdout + result.stderr).decode(errors="replace")
                record = HealthResult(started, time.time(), result.exit_code, output)
            before = health.status
            health.record(record, probe, container.started_at)
            if health.status is not before:
                self._emit(container, f"health_status: {health.status.value}")

    # --- stop, kill, restart, pause ---------------------------------------------------

    async def stop(self, ref: str, timeout: float | None = None, signal: str = "") -> bool:
        """Stop signal, ``timeout`` seconds of grace, then SIGKILL. False if not running."""
        container = self._get(ref)
        container.cancelled = True
        container.manually_stopped = True
        if container.state is S.RESTARTING:
            if container.backoff is not None:
                container.backoff.cancel()
            container.transition(S.EXITED)
            self._save(container)
            return True
        if container.state not in (S.RUNNING, S.PAUSED):
            return False
        if timeout is None:
            timeout = (
                float(container.config.stop_timeout)
                if container.config.stop_timeout is not None
                else DEFAULT_STOP_TIMEOUT
            )
        stop_signal = signal_number(signal or container.config.stop_signal or "SIGTERM")
        with contextlib.suppress(NotFound, RuntimeExitError):
            await self.runc.kill(container.id, stop_signal)
            if container.state is S.PAUSED:
                await self.runc.resume(container.id)
                container.state = S.RUNNING
        if timeout >= 0:
            with anyio.move_on_after(timeout):
                await container.stopped.wait()
        if not container.stopped.is_set():
            with contextlib.suppress(NotFound, RuntimeExitError):
                await self.runc.kill(container.id, signals.SIGKILL, all_processes=True)
            await container.stopped.wait()
        self._emit(container, "stop")
        return True

    async def kill(self, ref: str, signal: str | int = "SIGKILL") -> None:
        container = self._get(ref)
        if container.state not in (S.RUNNING, S.PAUSED, S.RESTARTING):
            raise Conflict(f"container {container.id[:12]} is not running")
        number = signal_number(signal)
        stop_signal = signal_number(container.config.stop_signal or "SIGTERM")
        if number in (signals.SIGKILL, stop_signal):
            container.cancelled = True
        container.manually_stopped = True
        if container.state is S.RESTARTING:
            if container.cancelled and container.backoff is not None:
                container.backoff.cancel()
                container.transition(S.EXITED)
                self._save(container)
            return
        try:
            await self.runc.kill(container.id, number)
        except (NotFound, RuntimeExitError) as exc:
            raise Conflict(f"cannot kill container {container.id[:12]}: it is not running") from exc
        self._emit(container, "kill", signal=str(number))
        if container.state is S.PAUSED and container.cancelled:
            with contextlib.suppress(RuntimeExitError):
                await self.runc.resume(container.id)
            container.state = S.RUNNING

    async def restart(self, ref: str, timeout: float | None = None) -> None:
        await self.stop(ref, timeout)
        await self.start(ref)
        self._emit(self._get(ref), "restart")

    async def pause(self, ref: str) -> None:
        container = self._get(ref)
        if container.state is not S.RUNNING:
            raise Conflict(f"container {container.id[:12]} is not running")
        await self.runc.pause(container.id)
        container.transition(S.PAUSED)
        self._save(container)
        self._emit(container, "pause")

    async def unpause(self, ref: str) -> None:
        container = self._get(ref)
        if container.state is not S.PAUSED:
            raise Conflict(f"container {container.id[:12]} is not paused")
        await self.runc.resume(container.id)
        container.transition(S.RUNNING)
        self._save(container)
        self._emit(container, "unpause")

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
        self._save(container)
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
                    self._save(container)
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
        return await self._exec_in(
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
        env: Sequence[str] = (),
        user: str = "",
        working_dir: str = "",
        tty: bool = False,
        privileged: bool = False,
    ) -> ExecSession:
        """An interactive exec: ``async with runtime.exec_session(...) as session:`` then
        ``send``/``receive``/``wait`` (see engine.runtime.exec_session)."""
        container = self._get(ref)
        if container.state is not S.RUNNING:
            raise Conflict(f"container {container.id[:12]} is not running")
        process_file, pid_file = self._exec_files(
            container, list(command), env, user, working_dir, privileged, tty
        )
        return ExecSession(self.runc, container.id, process_file, pid_file, tty=tty)

    def _exec_files(
        self,
        container: _Container,
        command: list[str],
        env: Sequence[str],
        user: str,
        working_dir: str,
        privileged: bool,
        tty: bool,
    ) -> tuple[Path, Path]:
        spec = json.loads((container.directory / "config.json").read_text())
        root = Path(container.rootfs)
        process = exec_process(
            spec,
            command,
            env=env,
            user=user,
            working_dir=working_dir,
            tty=tty,
            passwd_text=bundle.read_text(root / "etc/passwd") if user else "",
            group_text=bundle.read_text(root / "etc/group") if user else "",
            privileged=privileged,
        )
        container.exec_count += 1
        process_file = container.directory / f"exec-{container.exec_count}.json"
        pid_file = container.directory / f"exec-{container.exec_count}.pid"
        write_private(process_file, json.dumps(process))
        return process_file, pid_file

    async def _exec_in(
        self,
        container: _Container,
        command: list[str],
        *,
        env: Sequence[str] = (),
        user: str = "",
        working_dir: str = "",
        stdin: bytes | None = None,
        privileged: bool = False,
    ) -> ExecResult:
        process_file, pid_file = self._exec_files(
            container, command, env, user, working_dir, privileged, tty=False
        )
        try:
            code, out, err = await self.runc.exec(
                container.id, str(process_file), stdin=stdin or b"", pid_file=str(pid_file)
            )
        except BaseException:
            # Cancelled (a health check timing out): the process in the container goes too.
            pid = monitor.read_pid(pid_file)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signals.SIGKILL)
            raise
        finally:
            process_file.unlink(missing_ok=True)
            pid_file.unlink(missing_ok=True)
        return ExecResult(code if code >= 0 else 128 - code, out, err)

    # --- logs -------------------------------------------------------------------------

    async def logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float = 0.0,
        until: float = 0.0,
    ) -> AsyncIterator[logfiles.LogEntry]:
        """The container's log lines (whole), oldest first; ``since``/``until`` in seconds."""
        container = self._get(ref)
        since_ns = int(since * 1_000_000_000)
        until_ns = int(until * 1_000_000_000)
        if not follow and tail is not None:
            entries, _, _ = await anyio.to_thread.run_sync(
                lambda: logfiles.read_entries(
                    container.paths.log, since_ns=since_ns, until_ns=until_ns, tail=tail
                )
            )
            for entry in entries:
                yield entry
            return
        if not follow:
            lines = logfiles.iter_entries(container.paths.log, since_ns=since_ns, until_ns=until_ns)
            for count, entry in enumerate(lines):
                yield entry
                if count % 1024 == 1023:
                    await anyio.sleep(0)  # let others run while a long log streams
            return
        async for entry in logfiles.follow(
            container.paths.log,
            is_running=lambda: container.state in (S.RUNNING, S.PAUSED, S.RESTARTING),
            since_ns=since_ns,
            until_ns=until_ns,
            tail=tail,
        ):
            yield entry

    async def _rotate_logs_forever(self) -> None:
        while True:
            await anyio.sleep(ROTATE_CHECK_SECONDS)
            for container in list(self._containers.values()):
                if container.state is not S.RUNNING:
                    continue
                log = container.paths.log
                try:
                    size = log.stat().st_size
                except FileNotFoundError:
                    continue
                if size < container.log_max_size:
                    continue
                try:
                    logfiles.rotate(log, container.log_max_files)
                except OSError:
                    continue  # removed meanwhile
                if monitor.request_log_reopen(container.paths):
                    await anyio.sleep(0.05)
                    with contextlib.suppress(OSError):
                        logfiles.prune_after_reopen(log, container.log_max_files)

    # --- persistence ------------------------------------------------------------------

    def _save(self, container: _Container) -> None:
        record = {
            "id": container.id,
            "name": container.name,
            "config": container.config.model_dump(mode="json", by_alias=True),
            "rootfs": container.rootfs,
            "mounted_rootfs": container.mounted_rootfs,
            "state": container.state.value,
            "exit_code": container.exit_code,
            "oom_killed": container.oom_killed,
            "created_at": container.created_at,
            "started_at": container.started_at,
            "finished_at": container.finished_at,
            "restart_count": container.restart.restart_count,
            "manually_stopped": container.manually_stopped,
        }
        path = container.directory / "container.json"
        temporary = path.with_suffix(".tmp")
        write_private(temporary, json.dumps(record))
        os.replace(temporary, path)

    async def restore(self) -> list[str]:
        """Load the containers under ``root`` (after an engine restart); their ids.

        A container whose conmon is still alive is running again under supervision; one
        that exited meanwhile gets its exit code from conmon's exit file (255 if none, as
        after a reboot), and its restart policy applies as after any exit.
        """
        restored: list[str] = []
        for record_path in sorted(self.root.glob("*/container.json")):
            if record_path.parent.name.startswith(TRASH_PREFIX):
                continue
            record = json.loads(record_path.read_text())
            if record["id"] in self._containers:
                continue
            config = ContainerConfig.model_validate(record["config"])
            policy = config.host_config.restart_policy
            max_size, max_files = bundle.log_limits(config)
            container = _Container(
                id=record["id"],
                name=record["name"],
                config=config,
                directory=record_path.parent,
                rootfs=record["rootfs"],
                mounted_rootfs=record["mounted_rootfs"],
                state=ContainerState(record["state"]),
                exit_code=record["exit_code"],
                oom_killed=record["oom_killed"],
                created_at=record["created_at"],
                started_at=record["started_at"],
                finished_at=record["finished_at"],
                manually_stopped=record["manually_stopped"],
                restart=RestartManager(
                    policy.name or "no", policy.maximum_retry_count, record["restart_count"]
                ),
                probe=_probe_of(config),
                health=HealthState() if _probe_of(config) else None,
                log_max_size=max_size,
                log_max_files=max_files,
            )
            self._containers[container.id] = container
            restored.append(container.id)
            if container.state in (S.RUNNING, S.PAUSED, S.RESTARTING):
                alive = monitor.conmon_alive(container.paths)
                if alive and monitor.read_exit_code(container.paths) is None:
                    container.pid = monitor.read_pid(container.paths.container_pid) or 0
                    container.runs_started = 1
                    self._tasks.start_soon(self._supervise, container)
                    continue
                await self._on_exit(container, monitor.read_exit_code(container.paths) or 255)
            else:
                container.stopped.set()
        return restored
