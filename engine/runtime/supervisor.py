"""The supervision of a container's runs: launch, wait for the exit, health checks, restarts.

One run is conmon (which runs ``runc create``) then Runc.start; a supervisor task per
run waits for the exit that conmon records, runs the health checks meanwhile, records the
end of the run and applies the restart policy (a back-off, then a new run).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import anyio
from anyio.abc import TaskGroup

from engine.errors import InvalidParameter, NotFound
from engine.runtime import beneath, bundle, monitor, realtime, unhealthy
from engine.runtime.container_io import run_exec
from engine.runtime.container_record import ContainerRecord, ExecResult
from engine.runtime.runc import Runc, RuntimeExitError
from engine.runtime.spec import cgroups_path
from engine.runtime.state import ContainerState, HealthProbe, HealthResult, HealthStatus

S = ContainerState


class Supervisor:
    """Runs and watches the containers of one ContainerRuntime (in its task group)."""

    def __init__(
        self,
        runc: Runc,
        conmon: str,
        socket_dir: str,
        *,
        emit: Callable[..., None],
        tasks: Callable[[], TaskGroup],
    ) -> None:
        """``emit(container, action, **attributes)`` reports an event; ``tasks()`` is the
        runtime's task group, where supervisors and restart back-offs run."""
        self.runc = runc
        self.conmon = conmon
        self.socket_dir = socket_dir
        self._emit = emit
        self._tasks = tasks

    async def run(self, container: ContainerRecord, *, automatic: bool = False) -> None:
        """One run: conmon + runc create, Runc.start, then a supervisor task.

        ``automatic``: a restart the engine made (restart policy, unhealthy), which its
        ``start`` event says so that the daemon, which did not ask for it, reports it."""
        host_config = container.config.host_config
        if host_config.cpu_realtime_runtime > 0:
            realtime.reserve(
                cgroups_path(host_config, container.id),
                host_config.cpu_realtime_period,
                host_config.cpu_realtime_runtime,
            )
        if self.runc.has_state(container.id):
            with contextlib.suppress(NotFound):
                await self.runc.delete(container.id, force=True)
        try:
            beneath.stage(container.directory)
        except InvalidParameter as exc:  # e.g. a volume subpath that now leads out of it
            container.error = exc.message
            if container.state is S.RESTARTING:
                container.state = S.EXITED
            container.save()
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
                    keep_log=bundle.log_driver(container.config) != "none",
                    socket_dir=self.socket_dir,
                )
            finally:
                beneath.unstage(container.directory)
            await self.runc.start(container.id, init_pid=pid)
        except RuntimeExitError as exc:
            container.error = str(exc)
            container.exit_code = 127 if "not found" in exc.stderr else 126
            container.state = S.EXITED
            container.finished_at = time.time()
            with contextlib.suppress(NotFound, RuntimeExitError):
                await self.runc.delete(container.id, force=True)
            container.save()
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
        container.save()
        self._emit(container, "start", **({"automatic": "1"} if automatic else {}))
        self._tasks().start_soon(self.supervise, container, name=f"supervise {container.id[:12]}")

    async def supervise(self, container: ContainerRecord) -> None:
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
            await self.on_exit(container, exit_code)
        except Exception as exc:  # contained to this container, see above
            container.error = f"supervision failed: {exc}"
            container.state = S.DEAD
            container.record_end_of_run()
            with contextlib.suppress(OSError):
                container.save()

    async def on_exit(
        self, container: ContainerRecord, exit_code: int, *, defer_restart: bool = False
    ) -> bool:
        """Record the end of a run and apply the restart policy; True if it asks for a new
        run (``defer_restart``: then the caller starts it, e.g. in dependency order)."""
        container.exit_code = exit_code
        container.oom_killed = monitor.oom_killed(container.paths)
        container.finished_at = time.time()
        container.pid = 0
        if self.runc.has_state(container.id):
            with anyio.CancelScope(shield=True), contextlib.suppress(NotFound, RuntimeExitError):
                await self.runc.delete_exited(container.id)
        if container.state is S.REMOVING:
            container.record_end_of_run()
            return False
        container.state = S.EXITED
        async with container.signalling:  # after the kill event of the signal that ended it
            pass
        if container.oom_killed:
            self._emit(container, "oom")
        acted = unhealthy.after_exit(container)
        container.exit_reason = unhealthy.REASON if acted is not None else ""
        if acted is not None:
            self._emit(container, "die", exitCode=str(exit_code), reason=unhealthy.REASON)
            delay = acted[1]
        else:
            self._emit(container, "die", exitCode=str(exit_code))
            delay = container.restart.should_restart(
                exit_code,
                cancelled=container.cancelled,
                manually_stopped=container.manually_stopped,
                uptime=container.finished_at - container.started_at,
            )
        if delay is not None and not defer_restart:
            container.state = S.RESTARTING
        container.save()
        container.record_end_of_run()
        if delay is None or defer_restart:
            return delay is not None
        with anyio.CancelScope() as scope:
            container.backoff = scope
            await anyio.sleep(delay)
        container.backoff = None
        if scope.cancel_called or container.state is not S.RESTARTING:
            return False
        try:
            await self.run(container, automatic=True)
        except (RuntimeExitError, InvalidParameter):
            return False
        return True

    async def _health_loop(self, container: ContainerRecord, probe: HealthProbe) -> None:
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
                    result = await run_exec(self.runc, container, list(probe.command))
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
                if health.status is HealthStatus.HEALTHY:
                    unhealthy.healthy_again(container)
            if health.status is HealthStatus.UNHEALTHY and unhealthy.wants_action(container):
                # outside this run's task group, which the end of the run cancels
                self._tasks().start_soon(unhealthy.act, self.runc, container)
                return
