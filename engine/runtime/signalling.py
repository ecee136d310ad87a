"""Stopping, killing, pausing and resuming a container (for ContainerRuntime).

A stop sends the stop signal straight to the container's init through its pidfd
(:meth:`Runc.signal_init`), through ``runc kill`` when that cannot be used (a paused
container: runc knows its cgroup's freezer), waits the grace time on the record's
``stopped`` event, then kills every process of the container.
"""

from __future__ import annotations

import contextlib
import signal as signals
from typing import Protocol

import anyio

from engine.errors import Conflict, NotFound
from engine.runtime.container_record import ContainerRecord
from engine.runtime.runc import Runc, RuntimeExitError, signal_number
from engine.runtime.state import ContainerState

DEFAULT_STOP_TIMEOUT = 10.0
S = ContainerState


class Emit(Protocol):
    def __call__(self, container: ContainerRecord, action: str, **attributes: str) -> None: ...


async def stop(
    runc: Runc, container: ContainerRecord, emit: Emit, timeout: float | None, signal: str
) -> bool:
    """Stop signal, ``timeout`` seconds of grace, then SIGKILL. False if not running."""
    container.cancelled = True
    container.manually_stopped = True
    if container.state is S.RESTARTING:
        if container.backoff is not None:
            container.backoff.cancel()
        container.transition(S.EXITED)
        container.save()
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
        # a paused one through runc, which knows its cgroup's freezer
        direct = container.state is S.RUNNING
        if not (direct and runc.signal_init(container.id, stop_signal)):
            await runc.kill(container.id, stop_signal)
        if container.state is S.PAUSED:
            await runc.resume(container.id)
            container.state = S.RUNNING
    if timeout >= 0:
        with anyio.move_on_after(timeout):
            await container.stopped.wait()
    if not container.stopped.is_set():
        with contextlib.suppress(NotFound, RuntimeExitError):
            await runc.kill(container.id, signals.SIGKILL, all_processes=True)
        await container.stopped.wait()
    emit(container, "stop")
    return True


async def kill(runc: Runc, container: ContainerRecord, emit: Emit, signal: str | int) -> None:
    """Send ``signal``; the stop signal or SIGKILL also cancel the restart policy."""
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
            container.save()
        return
    async with container.signalling:
        try:
            direct = container.state is S.RUNNING
            if not (direct and runc.signal_init(container.id, number)):
                await runc.kill(container.id, number)
        except (NotFound, RuntimeExitError) as exc:
            raise Conflict(f"cannot kill container {container.id[:12]}: not running") from exc
        emit(container, "kill", signal=str(number))
    if container.state is S.PAUSED and container.cancelled:
        with contextlib.suppress(RuntimeExitError):
            await runc.resume(container.id)
        container.state = S.RUNNING


async def set_paused(runc: Runc, container: ContainerRecord, emit: Emit, *, paused: bool) -> None:
    before, after = (S.RUNNING, S.PAUSED) if paused else (S.PAUSED, S.RUNNING)
    if container.state is not before:
        raise Conflict(f"container {container.id[:12]} is not {before.value}")
    await (runc.pause if paused else runc.resume)(container.id)
    container.transition(after)
    container.save()
    emit(container, "pause" if paused else "unpause")
