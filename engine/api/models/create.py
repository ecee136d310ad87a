"""The one model of a container-create request, used by the client and by the engine.

``ContainerCreate`` is the body of ``POST /containers/create``: Docker's ``container.Config``
(:class:`ContainerConfig`) with its ``HostConfig`` and ``NetworkingConfig``. compose builds
it from a service, the client sends it, the daemon validates the body into it, and the
runtime, volumes and build read it to make the OCI bundle: one model from the Compose file
to runc. :class:`ImageConfig` is the part of an image's config that decides how its process
runs; the runtime lays the container's settings over it.

Attributes are snake_case, Docker's PascalCase names are the aliases (``UTSMode`` is
spelled out, ``UtsMode`` is read too). Go's nil slices and maps are ``None`` here, so a
body keeps the ``null`` a client sent and dumps back to the same JSON; readers write
``host_config.cap_add or []``. The shared pieces of the wire (``PortBinding``,
``EndpointSettings``, ``NetworkingConfig``) keep Docker's names as attribute names, as the
answers that also carry them do.

Command forms: ``Cmd`` and ``Entrypoint`` of a request are lists (exec form). An image's may
be a plain string, the shell form, which runs as ``/bin/sh -c <string>`` (Dockerfile
semantics). Splitting a Compose ``command: a b`` string into words is the client's job, as
it is with docker compose.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from engine.api.models.base import DockerModel

Command = list[str] | str


class SnakeModel(DockerModel):
    """A payload read attribute by attribute: snake_case names, Docker's names as aliases."""

    model_config = ConfigDict(alias_generator=to_pascal)


class HealthConfig(SnakeModel):
    """Docker's ``Healthcheck``; durations in nanoseconds, 0 means the default."""

    test: list[str] | None = None
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


class ContainerConfig(SnakeModel):
    """Docker's ``container.Config``: the top level of a create body, ``Config`` of inspect."""

    hostname: str = ""
    domainname: str = ""
    user: str = ""
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    exposed_ports: dict[str, dict[str, Any]] | None = None
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    env: list[str] | None = None
    cmd: list[str] | None = None
    healthcheck: HealthConfig | None = None
    image: str = ""
    volumes: dict[str, dict[str, Any]] | None = None
    working_dir: str = ""
    entrypoint: list[str] | None = None
    labels: dict[str, str] | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None


class PortBinding(DockerModel):
    HostIp: str = ""
    HostPort: str = ""


class RestartPolicy(SnakeModel):
    name: Literal["", "no", "always", "on-failure", "unless-stopped"] = ""
    maximum_retry_count: int = 0


class LogConfig(SnakeModel):
    type: str = ""
    config: dict[str, str] | None = None


class Ulimit(SnakeModel):
    """``{"Name": "nofile", "Soft": 1024, "Hard": 2048}``."""

    name: str
    soft: int
    hard: int


class DeviceMapping(SnakeModel):
    """``--device /dev/fuse:/dev/fuse:rwm``."""

    path_on_host: str
    path_in_container: str = ""
    cgroup_permissions: str = "rwm"


class BindOptions(SnakeModel):
    propagation: str = ""
    create_mountpoint: bool = False
    non_recursive: bool = False


class VolumeOptions(SnakeModel):
    no_copy: bool = False
    labels: dict[str, str] | None = None
    subpath: str = ""


class TmpfsOptions(SnakeModel):
    size_bytes: int = 0
    mode: int = 0


class WeightDevice(DockerModel):
    """``{"Path": "/dev/sda", "Weight": 300}`` (``BlkioWeightDevice``)."""

    Path: str
    Weight: int = 0


class ThrottleDevice(DockerModel):
    """``{"Path": "/dev/sda", "Rate": 1048576}`` (``BlkioDeviceReadBps`` and the others)."""

    Path: str
    Rate: int = 0


class DeviceRequest(DockerModel):
    """``--gpus``: a request for devices of a driver (this engine has none to give)."""

    Driver: str = ""
    Count: int = 0
    DeviceIDs: list[str] | None = None
    Capabilities: list[list[str]] | None = None
    Options: dict[str, str] | None = None


class Mount(SnakeModel):
    """One entry of ``HostConfig.Mounts`` (the long syntax)."""

    type: Literal["bind", "volume", "tmpfs"] = "volume"
    source: str = ""
    target: str
    read_only: bool = False
    consistency: str = ""
    bind_options: BindOptions | None = None
    volume_options: VolumeOptions | None = None
    tmpfs_options: TmpfsOptions | None = None


class HostConfig(SnakeModel):
    """Docker's ``HostConfig``: what a container gets from the host."""

    binds: list[str] | None = None
    network_mode: str = ""
    port_bindings: dict[str, list[PortBinding] | None] | None = None
    restart_policy: RestartPolicy | None = None
    auto_remove: bool = False
    log_config: LogConfig | None = None
    mounts: list[Mount] | None = None
    tmpfs: dict[str, str] | None = None
    volumes_from: list[str] | None = None
    dns: list[str] | None = None
    dns_options: list[str] | None = None
    dns_search: list[str] | None = None
    extra_hosts: list[str] | None = None
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None
    privileged: bool = False
    readonly_rootfs: bool = False
    readonly_paths: list[str] | None = None  # None: Docker's defaults (/proc/bus ...)
    security_opt: list[str] | None = None
    sysctls: dict[str, str] | None = None
    ulimits: list[Ulimit] | None = None
    devices: list[DeviceMapping] | None = None
    device_cgroup_rules: list[str] | None = None
    shm_size: int = 0
    ipc_mode: str = ""
    pid_mode: str = ""
    uts_mode: str = Field("", alias="UTSMode", validation_alias=AliasChoices("UTSMode", "UtsMode"))
    group_add: list[str] | None = None
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
    cgroupns_mode: str = ""
    userns_mode: str = ""
    runtime: str = ""
    annotations: dict[str, str] | None = None
    storage_opt: dict[str, str] | None = None
    links: list[str] | None = None
    memory_swappiness: int | None = None
    cpu_realtime_period: int = Field(0, alias="CpuRealtimePeriod")
    cpu_realtime_runtime: int = Field(0, alias="CpuRealtimeRuntime")
    blkio_weight: int = 0
    blkio_weight_device: list[WeightDevice] | None = None
    blkio_device_read_bps: list[ThrottleDevice] | None = None
    blkio_device_write_bps: list[ThrottleDevice] | None = None
    blkio_device_read_i_ops: list[ThrottleDevice] | None = Field(None, alias="BlkioDeviceReadIOps")
    blkio_device_write_i_ops: list[ThrottleDevice] | None = Field(
        None, alias="BlkioDeviceWriteIOps"
    )
    device_requests: list[DeviceRequest] | None = None


class EndpointSettings(DockerModel):
    IPAMConfig: dict[str, Any] | None = None
    Links: list[str] | None = None
    Aliases: list[str] | None = None
    NetworkID: str = ""
    EndpointID: str = ""
    Gateway: str = ""
    IPAddress: str = ""
    IPPrefixLen: int = 0
    IPv6Gateway: str = ""
    GlobalIPv6Address: str = ""
    GlobalIPv6PrefixLen: int = 0
    MacAddress: str = ""
    DriverOpts: dict[str, str] | None = None


class NetworkingConfig(DockerModel):
    EndpointsConfig: dict[str, EndpointSettings] | None = None


class ContainerCreate(ContainerConfig):
    """Body of ``POST /containers/create``: Config with HostConfig and NetworkingConfig."""

    host_config: HostConfig = Field(default_factory=HostConfig)
    networking_config: NetworkingConfig | None = None


class ImageConfig(SnakeModel):
    """The run-time part of an image's config (OCI image config ``config`` object)."""

    env: list[str] = Field(default_factory=list)
    cmd: Command | None = None
    entrypoint: Command | None = None
    working_dir: str = ""
    user: str = ""
    volumes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    labels: dict[str, str] = Field(default_factory=dict)
