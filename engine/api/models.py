"""Pydantic models of the Docker Engine API payloads the engine serves, shared by server and client.

Field names are Docker's own (PascalCase, as on the wire), so a model dumps to exactly the
JSON dockerd writes and validates what dockerd (or the docker CLI) sends. Every model keeps
unknown fields (``extra="allow"``): a client talking to a newer engine, or a real dockerd,
loses nothing, and the engine can store a ``ContainerCreate`` body as it was given.

Who produces / consumes what:

    request bodies     ContainerCreate, ExecCreate, ExecStart, NetworkCreate, NetworkConnect,
                       NetworkDisconnect, VolumeCreate    client -> routes -> Backend
    answers            ContainerSummary, ContainerInspect, ImageSummary, ImageInspect, Network,
                       Volume, VolumeList, Version, Info, Event, WaitResponse, ...
                       Backend -> routes -> client
    query helpers      parse_filters / encode_filters / labels_match (Docker's ``filters=``)

Filters (``?filters=``) are ``{"label": {"k=v": true, "k": true}}`` on the wire; the older
``{"label": ["k=v"]}`` form is accepted too. :func:`parse_filters` turns either into
``{"label": ["k=v", "k"]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.api.errors import InvalidParameter

API_VERSION = "1.41"
"""The version the engine advertises (``Api-Version``, ``/version``): the one captured flows
use, so the real clients take code paths that have been observed on the wire."""
MIN_API_VERSION = "1.24"
"""Oldest version accepted in a ``/v1.NN/`` prefix."""
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero time: what Docker writes for a time that has not happened (clients parse it)."""


class DockerModel(BaseModel):
    """Base of all API payloads: Docker's field names, unknown fields kept.

    Go encodes an empty slice or map as ``null``: a ``null`` for a field that is not
    optional here stands for its default (dockerd sends ``"RepoDigests": null``).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and None in data.values():
            fields = cls.model_fields
            return {
                key: value
                for key, value in data.items()
                if value is not None or key not in fields or fields[key].default is None
            }
        return data

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on the wire (aliases, nulls kept as Docker does)."""
        return self.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------------------------------------
# containers


class HealthConfig(DockerModel):
    Test: list[str] | None = None
    Interval: int = 0
    Timeout: int = 0
    StartPeriod: int = 0
    StartInterval: int = 0
    Retries: int = 0


class ContainerConfig(DockerModel):
    """Docker's ``container.Config`` (the top level of a create body, ``Config`` of inspect)."""

    Hostname: str = ""
    Domainname: str = ""
    User: str = ""
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ExposedPorts: dict[str, dict[str, Any]] | None = None
    Tty: bool = False
    OpenStdin: bool = False
    StdinOnce: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Healthcheck: HealthConfig | None = None
    Image: str = ""
    Volumes: dict[str, dict[str, Any]] | None = None
    WorkingDir: str = ""
    Entrypoint: list[str] | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str | None = None
    StopTimeout: int | None = None


class PortBinding(DockerModel):
    HostIp: str = ""
    HostPort: str = ""


class RestartPolicy(DockerModel):
    Name: str = ""
    MaximumRetryCount: int = 0


_RestartPolicy = RestartPolicy


class LogConfig(DockerModel):
    Type: str = ""
    Config: dict[str, str] | None = None


_LogConfig = LogConfig


class HostConfig(DockerModel):
    Binds: list[str] | None = None
    NetworkMode: str = ""
    PortBindings: dict[str, list[PortBinding] | None] | None = None
    RestartPolicy: _RestartPolicy | None = None
    AutoRemove: bool = False
    LogConfig: _LogConfig | None = None
    Mounts: list[dict[str, Any]] | None = None
    Dns: list[str] | None = None
    DnsOptions: list[str] | None = None
    DnsSearch: list[str] | None = None
    ExtraHosts: list[str] | None = None
    Privileged: bool = False
    Init: bool | None = None


_HostConfig = HostConfig


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


_NetworkingConfig = NetworkingConfig


class ContainerCreate(ContainerConfig):
    """Body of ``POST /containers/create``: Config with HostConfig and NetworkingConfig."""

    HostConfig: _HostConfig | None = None
    NetworkingConfig: _NetworkingConfig | None = None


class ContainerCreateResponse(DockerModel):
    Id: str
    Warnings: list[str] = Field(default_factory=list)


class Port(DockerModel):
    IP: str | None = None
    PrivatePort: int
    PublicPort: int | None = None
    Type: str = "tcp"


class MountPoint(DockerModel):
    Type: str = "volume"
    Name: str = ""
    Source: str = ""
    Destination: str = ""
    Driver: str = ""
    Mode: str = ""
    RW: bool = True
    Propagation: str = ""


class SummaryNetworkSettings(DockerModel):
    Networks: dict[str, EndpointSettings] = Field(default_factory=dict)


class ContainerSummary(DockerModel):
    """One element of ``GET /containers/json``."""

    Id: str
    Names: list[str] = Field(default_factory=list)
    Image: str = ""
    ImageID: str = ""
    Command: str = ""
    Created: int = 0
    Ports: list[Port] = Field(default_factory=list)
    Labels: dict[str, str] = Field(default_factory=dict)
    State: str = "created"
    Status: str = ""
    HostConfig: dict[str, Any] = Field(default_factory=dict)
    NetworkSettings: SummaryNetworkSettings = Field(default_factory=SummaryNetworkSettings)
    Mounts: list[MountPoint] = Field(default_factory=list)


class HealthLog(DockerModel):
    Start: str = ""
    End: str = ""
    ExitCode: int = 0
    Output: str = ""


class Health(DockerModel):
    Status: str = "starting"
    FailingStreak: int = 0
    Log: list[HealthLog] = Field(default_factory=list)


_Health = Health


class ContainerStateModel(DockerModel):
    """``State`` of container inspect."""

    Status: str = "created"
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    Health: _Health | None = None


class InspectNetworkSettings(DockerModel):
    Bridge: str = ""
    SandboxID: str = ""
    SandboxKey: str = ""
    Ports: dict[str, list[PortBinding] | None] = Field(default_factory=dict)
    Gateway: str = ""
    IPAddress: str = ""
    IPPrefixLen: int = 0
    MacAddress: str = ""
    Networks: dict[str, EndpointSettings] = Field(default_factory=dict)


class ContainerInspect(DockerModel):
    """``GET /containers/{id}/json``."""

    Id: str
    Created: str = ZERO_TIME
    Path: str = ""
    Args: list[str] = Field(default_factory=list)
    State: ContainerStateModel = Field(default_factory=ContainerStateModel)
    Image: str = ""
    ResolvConfPath: str = ""
    HostnamePath: str = ""
    HostsPath: str = ""
    LogPath: str = ""
    Name: str = ""
    RestartCount: int = 0
    Driver: str = "overlay2"
    Platform: str = "linux"
    MountLabel: str = ""
    ProcessLabel: str = ""
    AppArmorProfile: str = ""
    ExecIDs: list[str] | None = None
    HostConfig: _HostConfig = Field(default_factory=HostConfig)
    GraphDriver: dict[str, Any] = Field(default_factory=dict)
    Mounts: list[MountPoint] = Field(default_factory=list)
    Config: ContainerConfig  # required: a default here would be read as class-based config
    NetworkSettings: InspectNetworkSettings = Field(default_factory=InspectNetworkSettings)


class WaitError(DockerModel):
    Message: str = ""


class WaitResponse(DockerModel):
    StatusCode: int
    Error: WaitError | None = None


class ContainerTop(DockerModel):
    Titles: list[str]
    Processes: list[list[str]]


class ContainerPrune(DockerModel):
    ContainersDeleted: list[str] | None = None
    SpaceReclaimed: int = 0


# ---------------------------------------------------------------------------------------------
# exec


class ExecCreate(DockerModel):
    User: str = ""
    Privileged: bool = False
    Tty: bool = False
    AttachStdin: bool = False
    AttachStdout: bool = True
    AttachStderr: bool = True
    Detach: bool = False
    DetachKeys: str = ""
    Env: list[str] | None = None
    WorkingDir: str = ""
    Cmd: list[str] = Field(default_factory=list)


class ExecStart(DockerModel):
    Detach: bool = False
    Tty: bool = False
    ConsoleSize: list[int] | None = None


class IdResponse(DockerModel):
    Id: str


class ProcessConfig(DockerModel):
    tty: bool = False
    entrypoint: str = ""
    arguments: list[str] = Field(default_factory=list)
    privileged: bool = False
    user: str = ""


_ProcessConfig = ProcessConfig


class ExecInspect(DockerModel):
    ID: str
    Running: bool = False
    ExitCode: int | None = None
    ProcessConfig: _ProcessConfig = Field(default_factory=ProcessConfig)
    OpenStdin: bool = False
    OpenStderr: bool = False
    OpenStdout: bool = False
    CanRemove: bool = False
    ContainerID: str = ""
    DetachKeys: str = ""
    Pid: int = 0


# ---------------------------------------------------------------------------------------------
# images


class ImageSummary(DockerModel):
    Id: str
    ParentId: str = ""
    RepoTags: list[str] = Field(default_factory=list)
    RepoDigests: list[str] = Field(default_factory=list)
    Created: int = 0
    Size: int = 0
    SharedSize: int = -1
    VirtualSize: int = 0
    Labels: dict[str, str] = Field(default_factory=dict)
    Containers: int = -1


class ImageInspect(DockerModel):
    Id: str
    RepoTags: list[str] = Field(default_factory=list)
    RepoDigests: list[str] = Field(default_factory=list)
    Parent: str = ""
    Comment: str = ""
    Created: str = ZERO_TIME
    Author: str = ""
    Config: ContainerConfig | None = None
    Architecture: str = ""
    Os: str = "linux"
    Size: int = 0
    VirtualSize: int = 0
    GraphDriver: dict[str, Any] = Field(default_factory=dict)
    RootFS: dict[str, Any] = Field(default_factory=dict)
    Metadata: dict[str, Any] = Field(default_factory=dict)


class ImageDeleteItem(DockerModel):
    Untagged: str | None = None
    Deleted: str | None = None


class ProgressDetail(DockerModel):
    current: int | None = None
    total: int | None = None


class ErrorDetail(DockerModel):
    code: int | None = None
    message: str = ""


class ProgressMessage(DockerModel):
    """One line of a pull/push/load JSON stream."""

    status: str | None = None
    id: str | None = None
    progress: str | None = None
    progressDetail: ProgressDetail | None = None
    error: str | None = None
    errorDetail: ErrorDetail | None = None
    aux: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        # Docker omits absent keys in progress messages.
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------------------------------------
# networks


class IPAMPool(DockerModel):
    Subnet: str = ""
    IPRange: str = ""
    Gateway: str = ""
    AuxiliaryAddresses: dict[str, str] | None = None


class IPAM(DockerModel):
    Driver: str = "default"
    Options: dict[str, str] | None = None
    Config: list[IPAMPool] | None = None


_IPAM = IPAM


class NetworkContainer(DockerModel):
    Name: str = ""
    EndpointID: str = ""
    MacAddress: str = ""
    IPv4Address: str = ""
    IPv6Address: str = ""


class Network(DockerModel):
    Name: str
    Id: str
    Created: str = ZERO_TIME
    Scope: str = "local"
    Driver: str = "bridge"
    EnableIPv6: bool = False
    IPAM: _IPAM = Field(default_factory=IPAM)
    Internal: bool = False
    Attachable: bool = False
    Ingress: bool = False
    ConfigFrom: dict[str, str] = Field(default_factory=lambda: {"Network": ""})
    ConfigOnly: bool = False
    Containers: dict[str, NetworkContainer] = Field(default_factory=dict)
    Options: dict[str, str] = Field(default_factory=dict)
    Labels: dict[str, str] = Field(default_factory=dict)


class NetworkCreate(DockerModel):
    Name: str
    CheckDuplicate: bool = True
    Driver: str = ""
    Internal: bool = False
    Attachable: bool = False
    Ingress: bool = False
    EnableIPv6: bool | None = None
    IPAM: _IPAM | None = None
    Options: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class NetworkCreateResponse(DockerModel):
    Id: str
    Warning: str = ""


class NetworkConnect(DockerModel):
    Container: str
    EndpointConfig: EndpointSettings | None = None


class NetworkDisconnect(DockerModel):
    Container: str
    Force: bool = False


# ---------------------------------------------------------------------------------------------
# volumes


class Volume(DockerModel):
    Name: str
    Driver: str = "local"
    Mountpoint: str = ""
    CreatedAt: str = ""
    Labels: dict[str, str] | None = None
    Scope: str = "local"
    Options: dict[str, str] | None = None


class VolumeCreate(DockerModel):
    Name: str = ""
    Driver: str = "local"
    DriverOpts: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class VolumeList(DockerModel):
    Volumes: list[Volume] = Field(default_factory=list)
    Warnings: list[str] | None = None


# ---------------------------------------------------------------------------------------------
# system


class ComponentVersion(DockerModel):
    Name: str
    Version: str
    Details: dict[str, str] | None = None


class Version(DockerModel):
    Platform: dict[str, str] = Field(default_factory=lambda: {"Name": "pycompose engine"})
    Components: list[ComponentVersion] = Field(default_factory=list)
    Version: str = ""
    ApiVersion: str = API_VERSION
    MinAPIVersion: str = MIN_API_VERSION
    GitCommit: str = ""
    GoVersion: str = ""
    Os: str = "linux"
    Arch: str = ""
    KernelVersion: str = ""
    BuildTime: str = ""


class Info(DockerModel):
    ID: str = ""
    Name: str = ""
    ServerVersion: str = ""
    OSType: str = "linux"
    Architecture: str = ""
    Containers: int = 0
    ContainersRunning: int = 0
    ContainersPaused: int = 0
    ContainersStopped: int = 0
    Images: int = 0
    Driver: str = "overlay2"
    NCPU: int = 0
    MemTotal: int = 0
    OperatingSystem: str = ""
    KernelVersion: str = ""
    DockerRootDir: str = ""
    LiveRestoreEnabled: bool = True
    Labels: list[str] = Field(default_factory=list)
    Warnings: list[str] | None = None


class EventActor(DockerModel):
    ID: str = ""
    Attributes: dict[str, str] = Field(default_factory=dict)


class Event(DockerModel):
    """One line of ``GET /events``. ``status``/``id``/``from`` are the legacy container keys."""

    Type: str
    Action: str
    Actor: EventActor = Field(default_factory=EventActor)
    scope: str = "local"
    time: int = 0
    timeNano: int = 0

    def wire(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        if self.Type == "container":
            data = {
                "status": self.Action,
                "id": self.Actor.ID,
                "from": self.Actor.Attributes.get("image", ""),
                **data,
            }
        return data


# ---------------------------------------------------------------------------------------------
# filters


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """Docker's ``filters=`` query value -> ``{"label": ["k=v", ...]}``.

    >>> parse_filters('{"label":{"a=1":true},"name":["x"]}')
    {'label': ['a=1'], 'name': ['x']}
    """
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise InvalidParameter(f"invalid filters {text!r}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidParameter(f"invalid filters {text!r}: expected a JSON object")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            result[str(key)] = sorted(str(k) for k, v in value.items() if v)
        elif isinstance(value, list):
            result[str(key)] = [str(v) for v in value]
        else:
            raise InvalidParameter(f"invalid filter {key!r}: expected an object or a list")
    return result


def encode_filters(filters: Mapping[str, Iterable[str]]) -> str:
    """The inverse of :func:`parse_filters`, in the ``map[string]map[string]bool`` form."""
    return json.dumps(
        {key: dict.fromkeys(values, True) for key, values in filters.items()},
        separators=(",", ":"),
    )


def labels_match(labels: Mapping[str, str], wanted: Iterable[str]) -> bool:
    """All of ``wanted`` (``key`` = present, ``key=value`` = equal) hold for ``labels``."""
    for entry in wanted:
        key, sep, value = entry.partition("=")
        if key not in labels:
            return False
        if sep and labels[key] != value:
            return False
    return True


def version_tuple(version: str) -> tuple[int, int]:
    """``"1.41"`` -> ``(1, 41)``; InvalidParameter on anything else."""
    major, sep, minor = version.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise InvalidParameter(f"invalid API version {version!r}")
    return int(major), int(minor)
