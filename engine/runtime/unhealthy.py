"""What the engine does when a container's health check turns it unhealthy.

Docker only reports ``unhealthy``; a container labelled ``io.pycompose.on-unhealthy``
(``restart`` or ``stop``) is acted upon: its stop signal, the grace period, SIGKILL, as
``docker stop``; then ``restart`` starts it again (same container, restart count + 1, a
back-off between attempts: 100 ms doubling to 1 min, reset once it is healthy) and
``stop`` leaves it stopped (as a user's stop: its restart policy does not start it again).
A line on the container's stderr log and the ``die`` event's ``reason`` say why.
"""

from __future__ import annotations

import contextlib
import os
import signal as signals
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from engine.api.models.extensions import on_unhealthy
from engine.errors import InvalidParameter, NotFound
from engine.runtime.logs import LogEntry
from engine.runtime.runc import Runc, RuntimeExitError, signal_number
from engine.runtime.state import ContainerState

if TYPE_CHECKING:
    from engine.runtime.container_record import ContainerRecord

FIRST_BACKOFF = 0.1
MAX_BACKOFF = 60.0
DEFAULT_GRACE = 10.0
REASON = "unhealthy"


@dataclass(slots=True)
class UnhealthyPolicy:
    """The action a container asks for, and where the engine is in applying it."""

    action: str = "none"
    pending: str = ""  # the action under way for the current run ("" when none)
    streak: int = 0  # restarts for unhealthiness since the container was last healthy
    last: str = ""  # "restarted: unhealthy" / "stopped: unhealthy", for ps

    @classmethod
    def of_labels(cls, labels: dict[str, str] | None) -> UnhealthyPolicy:
        try:
            return cls(on_unhealthy(labels))
        except InvalidParameter:  # refused at create; a record written otherwise acts not
            return cls()

    def backoff(self) -> float:
        return float(min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(self.streak, 20)))


def wants_action(container: ContainerRecord) -> bool:
    policy = container.unhealthy
    return policy.action != "none" and not policy.pending


async def act(runc: Runc, container: ContainerRecord) -> None:
    """Stop the current run for unhealthiness (the supervisor's ``on_exit`` then restarts
    or leaves it stopped, see :func:`after_exit`)."""
    policy = container.unhealthy
    if container.state is not ContainerState.RUNNING or policy.pending:
        return
    policy.pending = policy.action
    config = container.config
    grace = float(config.stop_timeout) if config.stop_timeout is not None else DEFAULT_GRACE
    stop_signal = signal_number(config.stop_signal or "SIGTERM")
    with contextlib.suppress(NotFound, RuntimeExitError):
        await runc.kill(container.id, stop_signal)
    with anyio.move_on_after(max(grace, 0.0)):
        await container.stopped.wait()
    if not container.stopped.is_set():
        with contextlib.suppress(NotFound, RuntimeExitError):
            await runc.kill(container.id, signals.SIGKILL, all_processes=True)


def after_exit(container: ContainerRecord) -> tuple[str, float | None] | None:
    """After a run ended: None if no unhealthy action was under way, else the action
    taken and the delay before the next run (None: stay stopped)."""
    policy = container.unhealthy
    action, policy.pending = policy.pending, ""
    if not action:
        return None
    if container.cancelled:  # a user's stop or removal meanwhile wins
        return None
    policy.last = f"{'restarted' if action == 'restart' else 'stopped'}: {REASON}"
    _log_line(container, action)
    if action == "stop":
        container.manually_stopped = True
        container.cancelled = True
        return action, None
    delay = policy.backoff()
    policy.streak += 1
    container.restart.restart_count += 1
    return action, delay


def healthy_again(container: ContainerRecord) -> None:
    container.unhealthy.streak = 0


def _log_line(container: ContainerRecord, action: str) -> None:
    """One line on the container's stderr log (CRI format, as conmon writes it)."""
    health = container.health
    last = health.log[-1].output.strip().replace("\n", " ")[:200] if health and health.log else ""
    streak = health.failing_streak if health else 0
    verb = "restarting" if action == "restart" else "stopping"
    text = f"[pycompose] container unhealthy ({streak} failing checks"
    text += f", last output: {last!r}); {verb} it" if last else f"); {verb} it"
    stamp = LogEntry(time.time_ns(), "stderr", b"").timestamp()
    line = f"{stamp} stderr F {text}\n".encode(errors="replace")
    with contextlib.suppress(OSError):
        fd = os.open(container.paths.log, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
