"""What a caller asks for: a container's configuration, shaped after Docker's ContainerCreate.

``ContainerConfig`` mirrors the body of ``POST /containers/create`` (Docker's ``Config``
with ``HostConfig`` nested), so the daemon can validate a request body straight into it
(field aliases are Docker's PascalCase names). ``ImageConfig`` is the part of an image's
config that decides how its process runs. Both are frozen values; ``engine.runtime.spec``
turns them into an OCI runtime spec.

Command forms: a list is the exec form; a plain string is the shell form and runs as
``/bin/sh -c <string>`` (Dockerfile semantics). Splitting a Compose ``command: a b`` string
into words is the client's job, as it is with docker compose.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, AliasGenerator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_pascal

Command = list[str] | str


class _DockerModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=to_pascal, serialization_alias=to_pascal),
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_unset(cls, data: Any) -> Any:
        """Docker clients send ``null`` for a setting left unset: it takes the default."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Ulimit(_DockerModel):
    """``{"Name": "nofile", "Soft": 1024, "Hard": 2048}``."""

    name: str
    soft: int
    hard: int


class DeviceMapping(_DockerModel):
    """``--device /dev/fuse:/dev/fuse:rwm``."""

    path_on_host: str
    path_in_container: str = ""
    cgroup_permissions: str = "rwm"


class BindOptions(_DockerModel):
    propagation: str = ""
    create_mountpoint: bool = False
    non_recursive: bool = False


class VolumeOptions(_DockerModel):
    no_copy: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    subpath: str = ""


class TmpfsOptions(_DockerModel):
    size_bytes: int = 0
    mode: int = 0


class MountRequest(_DockerModel):
    """One entry of ``HostConfig.Mounts`` (the long syntax)."""

    type: Literal["bind", "volume", "tmpfs"] = "volume"
    source: str = ""
    target: str
    read_only: bool = False
    consistency: str = ""
    bind_options: BindOptions | None = None
    volume_options: VolumeOptions | None = None
    tmpfs_options: TmpfsOptions | None = None


class RestartPolicy(_DockerModel):
    name: Literal["", "no", "always", "on-failure", "unless-stopped"] = "no"
    maximum_retry_count: int = 0


class HealthConfig(_DockerModel):
    """Docker's ``Healthcheck``; durations in nanoseconds, 0 means the default."""

    test: list[str] = Field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    retries: int = 0
    start_period: int = 0
    start_interval: int = 0


class HostConfig(_DockerModel):
    binds: list[str] = Field(default_factory=list)
    mounts: list[MountRequest] = Field(default_factory=list)
    tmpfs: dict[str, str] = Field(default_factory=dict)
    volumes_from: list[str] = Field(default_factory=list)
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    privileged: bool = False
    readonly_rootfs: bool = False
    security_opt: list[str] = Field(default_factory=list)
    sysctls: dict[str, str] = Field(default_factory=dict)
    ulimits: list[Ulimit] = Field(default_factory=list)
    devices: list[DeviceMapping] = Field(default_factory=list)
    device_cgroup_rules: list[str] = Field(default_factory=list)
    shm_size: int = 0
    ipc_mode: str = ""
    pid_mode: str = ""
    network_mode: str = ""
    uts_mode: str = Field("", validation_alias=AliasChoices("UTSMode", "UtsMode", "uts_mode"))
    group_add: list[str] = Field(default_factory=list)
    init: bool | None = None
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    oom_kill_disable: bool | None = None
    oom_score_adj: int = 0
    cgroup_parent: str = ""
    restart_policy: RestartPolicy = Field(default_factory=RestartPolicy)
    auto_remove: bool = False
    log_config: dict[str, object] = Field(default_factory=dict)


class ContainerConfig(_DockerModel):
    """Docker's ``Config`` plus its ``HostConfig``: everything a container is created from."""

    hostname: str = ""
    domainname: str = ""
    user: str = ""
    env: list[str] = Field(default_factory=list)
    cmd: Command | None = None
    entrypoint: Command | None = None
    working_dir: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    volumes: dict[str, dict[str, object]] = Field(default_factory=dict)
    stop_signal: str = ""
    stop_timeout: int | None = None
    healthcheck: HealthConfig | None = None
    image: str = ""
    host_config: HostConfig = Field(default_factory=HostConfig)


class ImageConfig(_DockerModel):
    """The run-time part of an image's config (OCI image config ``config`` object)."""

    env: list[str] = Field(default_factory=list)
    cmd: Command | None = None
    entrypoint: Command | None = None
    working_dir: str = ""
    user: str = ""
    volumes: dict[str, dict[str, object]] = Field(default_factory=dict)
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    labels: dict[str, str] = Field(default_factory=dict)
