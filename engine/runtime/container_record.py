"""A container as the runtime records it: its state in memory, on disk, and as reported.

``ContainerRecord`` is the runtime's own mutable record (changed only by
engine.runtime.containers.ContainerRuntime); ``container.json`` in the container's
directory keeps what an engine restart needs to find it again; ``ContainerInfo`` is the
snapshot given to inspect and list; ``RuntimeEvent`` what happened to it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from engine.api.models import ContainerCreate, RestartPolicy
from engine.file_modes import write_private
from engine.runtime import bundle, monitor
from engine.runtime.state import (
    ContainerState,
    HealthProbe,
    HealthResult,
    HealthState,
    HealthStatus,
    RestartManager,
    check_transition,
)
from engine.runtime.unhealthy import UnhealthyPolicy

S = ContainerState
RECORD_FILE = "container.json"
# fields of container.json written as they are; the last ones are set after of_config
_RESTORED_AS_IS = (
    "exit_code",
    "oom_killed",
    "created_at",
    "started_at",
    "finished_at",
    "manually_stopped",
)
_SAVED_AS_IS = ("id", "name", "rootfs", "mounted_rootfs", *_RESTORED_AS_IS)


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
    config: ContainerCreate
    directory: Path
    unhealthy_action: str = ""  # "restarted: unhealthy" after the engine acted on it
    exit_reason: str = ""  # why the engine ended the last run ("unhealthy"), "" otherwise

    @property
    def log_path(self) -> Path:
        # made when asked: the container list takes a snapshot of every container
        return monitor.MonitorPaths(self.directory, self.id).log


@dataclass(slots=True)
class ContainerRecord:
    """The runtime's own record of a container (mutated only by ContainerRuntime)."""

    id: str
    name: str
    config: ContainerCreate
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
    unhealthy: UnhealthyPolicy = field(default_factory=UnhealthyPolicy)
    exit_reason: str = ""
    stopped: anyio.Event = field(default_factory=anyio.Event)
    removed: anyio.Event = field(default_factory=anyio.Event)
    backoff: anyio.CancelScope | None = None
    log_max_size: int = bundle.DEFAULT_LOG_MAX_SIZE
    log_max_files: int = bundle.DEFAULT_LOG_MAX_FILES
    exec_count: int = 0
    runs_started: int = 0  # runs begun, and runs whose end was recorded: ``wait``
    runs_ended: int = 0  # ("next-exit") compares them, so no short run is missed
    run_ended: anyio.Event = field(default_factory=anyio.Event)
    # ``config`` as saved: it does not change after create, and a container is saved at
    # each start and exit (dumping the model each time was most of a save)
    config_json: str = ""
    # held while a signal is sent and its ``kill`` event emitted: the ``die`` it causes
    # comes after it (dockerd orders them by the container's lock the same way)
    signalling: anyio.Lock = field(default_factory=anyio.Lock)

    @classmethod
    def of_config(
        cls,
        config: ContainerCreate,
        *,
        id: str,
        name: str,
        directory: Path,
        rootfs: str,
        mounted_rootfs: bool,
        restart_count: int = 0,
    ) -> ContainerRecord:
        """A record whose health probe, restart policy and log limits follow ``config``."""
        probe = _probe_of(config)
        policy = config.host_config.restart_policy or RestartPolicy()
        max_size, max_files = bundle.log_limits(config)
        return cls(
            id=id,
            name=name,
            config=config,
            directory=directory,
            rootfs=rootfs,
            mounted_rootfs=mounted_rootfs,
            restart=RestartManager(policy.name or "no", policy.maximum_retry_count, restart_count),
            probe=probe,
            health=HealthState() if probe else None,
            unhealthy=UnhealthyPolicy.of_labels(config.labels),
            log_max_size=max_size,
            log_max_files=max_files,
        )

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

    def info(self) -> ContainerInfo:
        health = self.health
        return ContainerInfo(
            id=self.id,
            name=self.name,
            state=self.state,
            pid=self.pid,
            exit_code=self.exit_code,
            oom_killed=self.oom_killed,
            error=self.error,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            restart_count=self.restart.restart_count,
            health=health.status if health else HealthStatus.NONE,
            health_failing_streak=health.failing_streak if health else 0,
            health_log=tuple(health.log) if health else (),
            config=self.config,
            directory=self.directory,
            unhealthy_action=self.unhealthy.last,
            exit_reason=self.exit_reason,
        )

    def save(self) -> None:
        """Write ``container.json`` (atomically: a crash leaves the old one or the new one)."""
        if not self.config_json:
            self.config_json = json.dumps(self.config.model_dump(mode="json", by_alias=True))
        record = {
            **{name: getattr(self, name) for name in _SAVED_AS_IS},
            "state": self.state.value,
            "restart_count": self.restart.restart_count,
        }
        text = json.dumps(record)
        path = self.directory / RECORD_FILE
        temporary = path.with_suffix(".tmp")
        write_private(temporary, f'{text[:-1]}, "config": {self.config_json}}}')
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> ContainerRecord:
        """The record saved at ``path`` (a container directory's ``container.json``)."""
        record = json.loads(path.read_text())
        container = cls.of_config(
            ContainerCreate.model_validate(record["config"]),
            id=record["id"],
            name=record["name"],
            directory=path.parent,
            rootfs=record["rootfs"],
            mounted_rootfs=record["mounted_rootfs"],
            restart_count=record["restart_count"],
        )
        container.state = ContainerState(record["state"])
        for name in _RESTORED_AS_IS:
            setattr(container, name, record[name])
        return container


def _probe_of(config: ContainerCreate) -> HealthProbe | None:
    health = config.healthcheck
    if health is None:
        return None
    return HealthProbe.from_test(
        health.test or [],
        interval_ns=health.interval,
        timeout_ns=health.timeout,
        retries=health.retries,
        start_period_ns=health.start_period,
        start_interval_ns=health.start_interval,
    )
