"""Container states and their legal transitions; restart policy and health check rules. Pure.

Rule 1: a container's state changes only through :func:`check_transition`, which refuses
what :data:`TRANSITIONS` does not list (with Docker's wording, as a Conflict).
Rule 2: the restart decision (:class:`RestartManager`) and the health status
(:class:`HealthState`) are values updated by events; the timing lives in the caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from engine.errors import Conflict


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"


S = ContainerState
TRANSITIONS: dict[ContainerState, frozenset[ContainerState]] = {
    S.CREATED: frozenset({S.RUNNING, S.EXITED, S.REMOVING, S.DEAD}),
    S.RUNNING: frozenset({S.PAUSED, S.EXITED, S.RESTARTING, S.DEAD}),
    S.PAUSED: frozenset({S.RUNNING, S.EXITED, S.DEAD}),
    S.RESTARTING: frozenset({S.RUNNING, S.EXITED, S.REMOVING, S.DEAD}),
    S.EXITED: frozenset({S.RUNNING, S.RESTARTING, S.REMOVING, S.DEAD}),
    S.DEAD: frozenset({S.REMOVING}),
    S.REMOVING: frozenset({S.DEAD}),
}


def check_transition(container_id: str, current: ContainerState, target: ContainerState) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"container {container_id[:12]} is {current.value}: it cannot become {target.value}",
            hint=_HINTS.get((current, target)),
        )


_HINTS = {
    (S.RUNNING, S.REMOVING): "stop the container first, or remove it with force",
    (S.PAUSED, S.REMOVING): "unpause and stop the container first, or remove it with force",
    (S.CREATED, S.PAUSED): "start the container first",
    (S.EXITED, S.PAUSED): "start the container first",
}

# --- restart policies (moby restartmanager) -------------------------------------------

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
RESET_AFTER_UPTIME = 10.0


@dataclass(slots=True)
class RestartManager:
    """Docker's restart manager: whether to restart after an exit, and after how long.

    Delay starts at 100 ms and doubles on each restart up to 1 min; a run of 10 s or more
    resets it. ``on-failure:N`` stops after N restarts. ``cancelled`` (a stop, or a kill
    with SIGKILL or the stop signal) suppresses every policy; ``manually_stopped`` (any
    kill) suppresses ``unless-stopped``.
    """

    policy: str = "no"
    maximum_retry_count: int = 0
    restart_count: int = 0
    delay: float = 0.0

    def should_restart(
        self, exit_code: int, *, cancelled: bool, manually_stopped: bool, uptime: float
    ) -> float | None:
        """The delay before restarting, or None to leave the container stopped."""
        if self.policy in ("", "no") or cancelled:
            return None
        if uptime >= RESET_AFTER_UPTIME:
            self.delay = 0.0
        self.delay = BACKOFF_START if self.delay == 0.0 else min(self.delay * 2, BACKOFF_MAX)
        restart = False
        if self.policy == "always" or (self.policy == "unless-stopped" and not manually_stopped):
            restart = True
        elif self.policy == "on-failure":
            limit = self.maximum_retry_count
            if limit == 0 or self.restart_count < limit:
                restart = exit_code != 0
        if not restart:
            return None
        self.restart_count += 1
        return self.delay


# --- health checks (moby daemon/health.go) --------------------------------------------

NANOS = 1_000_000_000
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
MAX_LOG_ENTRIES = 5
MAX_OUTPUT_LEN = 4096


class HealthStatus(enum.Enum):
    NONE = "none"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """How a health check runs, with Docker's defaults resolved (seconds)."""

    command: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    start_period: float = DEFAULT_START_PERIOD
    start_interval: float = DEFAULT_START_INTERVAL

    @classmethod
    def from_test(
        cls,
        test: list[str],
        *,
        interval_ns: int = 0,
        timeout_ns: int = 0,
        retries: int = 0,
        start_period_ns: int = 0,
        start_interval_ns: int = 0,
    ) -> HealthProbe | None:
        """Docker's ``Test``: ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", "cmd"]``."""
        if not test or test[0] == "NONE":
            return None
        kind, *rest = test
        if kind == "CMD-SHELL":
            command: tuple[str, ...] = ("/bin/sh", "-c", " ".join(rest))
        elif kind == "CMD":
            command = tuple(rest)
        else:
            command = ("/bin/sh", "-c", " ".join(test))
        if not command:
            return None
        return cls(
            command=command,
            interval=interval_ns / NANOS if interval_ns > 0 else DEFAULT_INTERVAL,
            timeout=timeout_ns / NANOS if timeout_ns > 0 else DEFAULT_TIMEOUT,
            retries=retries if retries > 0 else DEFAULT_RETRIES,
            start_period=start_period_ns / NANOS if start_period_ns > 0 else 0.0,
            start_interval=start_interval_ns / NANOS
            if start_interval_ns > 0
            else DEFAULT_START_INTERVAL,
        )

    def next_interval(self, status: HealthStatus, since_start: float) -> float:
        """During the start period, probes come every ``start_interval``."""
        if status is HealthStatus.STARTING and since_start < self.start_period:
            return self.start_interval
        return self.interval


@dataclass(frozen=True, slots=True)
class HealthResult:
    start: float  # wall-clock seconds
    end: float
    exit_code: int
    output: str


@dataclass(slots=True)
class HealthState:
    status: HealthStatus = HealthStatus.STARTING
    failing_streak: int = 0
    log: list[HealthResult] = field(default_factory=list)

    def reset(self) -> None:
        """A (re)started container starts over as ``starting``."""
        self.status = HealthStatus.STARTING
        self.failing_streak = 0

    def record(self, result: HealthResult, probe: HealthProbe, started_at: float) -> None:
        """Apply one probe result (Docker: failures in the start period do not count)."""
        capped = HealthResult(
            result.start, result.end, result.exit_code, result.output[:MAX_OUTPUT_LEN]
        )
        self.log = [*self.log, capped][-MAX_LOG_ENTRIES:]
        if result.exit_code == 0:
            self.failing_streak = 0
            self.status = HealthStatus.HEALTHY
            return
        if self.status is HealthStatus.STARTING and result.start - started_at < probe.start_period:
            return
        self.failing_streak += 1
        if self.failing_streak >= probe.retries:
            self.status = HealthStatus.UNHEALTHY
