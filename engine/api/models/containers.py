"""Answers about containers and execs: list, inspect, wait, top, prune, exec create/inspect."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.api.models.base import ZERO_TIME, DockerModel
from engine.api.models.create import ContainerConfig, EndpointSettings, HostConfig, PortBinding

_HostConfig = HostConfig


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
