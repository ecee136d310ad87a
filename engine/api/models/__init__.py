"""Pydantic models of the Docker Engine API payloads, shared by the client and the engine.

Field names are Docker's own, so a model dumps to exactly the JSON dockerd writes and
validates what dockerd (or the docker CLI) sends. Every model keeps unknown fields
(``extra="allow"``): a client talking to a newer engine, or a real dockerd, loses nothing,
and the engine can store a ``ContainerCreate`` body as it was given.

This package is pure data: it imports pydantic and :mod:`engine.errors` only, so that the
runtime, volumes and build below the daemon read the same ``ContainerCreate`` the client
sent (tests/test_import_rules.py holds it to that).

    base        DockerModel, API_VERSION, ZERO_TIME
    create      ContainerCreate (Config + HostConfig + NetworkingConfig), ImageConfig
    containers  ContainerSummary, ContainerInspect, WaitResponse, exec bodies and answers
    images      ImageSummary, ImageInspect, ProgressMessage (pull/push/load streams)
    networks    Network, NetworkCreate/Connect/Disconnect, Volume, VolumeCreate, VolumeList
    system      Version, Info, Event
    filters     parse_filters / encode_filters / labels_match (Docker's ``filters=``)
"""

from __future__ import annotations

from engine.api.models.base import (
    API_VERSION,
    MIN_API_VERSION,
    ZERO_TIME,
    DockerModel,
)
from engine.api.models.containers import (
    ContainerCreateResponse,
    ContainerInspect,
    ContainerPrune,
    ContainerStateModel,
    ContainerSummary,
    ContainerTop,
    ExecCreate,
    ExecInspect,
    ExecStart,
    Health,
    HealthLog,
    IdResponse,
    InspectNetworkSettings,
    MountPoint,
    Port,
    ProcessConfig,
    SummaryNetworkSettings,
    WaitError,
    WaitResponse,
)
from engine.api.models.create import (
    BindOptions,
    Command,
    ContainerConfig,
    ContainerCreate,
    DeviceMapping,
    DeviceRequest,
    EndpointSettings,
    HealthConfig,
    HostConfig,
    ImageConfig,
    LogConfig,
    Mount,
    NetworkingConfig,
    PortBinding,
    RestartPolicy,
    SnakeModel,
    ThrottleDevice,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
    WeightDevice,
)
from engine.api.models.filters import (
    encode_filters,
    json_object,
    labels_match,
    parse_filters,
    version_tuple,
)
from engine.api.models.images import (
    ErrorDetail,
    ImageDeleteItem,
    ImageInspect,
    ImageSummary,
    ProgressDetail,
    ProgressMessage,
)
from engine.api.models.networks import (
    IPAM,
    IPAMPool,
    Network,
    NetworkConnect,
    NetworkContainer,
    NetworkCreate,
    NetworkCreateResponse,
    NetworkDisconnect,
    Volume,
    VolumeCreate,
    VolumeList,
)
from engine.api.models.system import (
    ComponentVersion,
    Event,
    EventActor,
    Info,
    Version,
)

__all__ = [
    "API_VERSION",
    "IPAM",
    "MIN_API_VERSION",
    "ZERO_TIME",
    "BindOptions",
    "Command",
    "ComponentVersion",
    "ContainerConfig",
    "ContainerCreate",
    "ContainerCreateResponse",
    "ContainerInspect",
    "ContainerPrune",
    "ContainerStateModel",
    "ContainerSummary",
    "ContainerTop",
    "DeviceMapping",
    "DeviceRequest",
    "DockerModel",
    "EndpointSettings",
    "ErrorDetail",
    "Event",
    "EventActor",
    "ExecCreate",
    "ExecInspect",
    "ExecStart",
    "Health",
    "HealthConfig",
    "HealthLog",
    "HostConfig",
    "IPAMPool",
    "IdResponse",
    "ImageConfig",
    "ImageDeleteItem",
    "ImageInspect",
    "ImageSummary",
    "Info",
    "InspectNetworkSettings",
    "LogConfig",
    "Mount",
    "MountPoint",
    "Network",
    "NetworkConnect",
    "NetworkContainer",
    "NetworkCreate",
    "NetworkCreateResponse",
    "NetworkDisconnect",
    "NetworkingConfig",
    "Port",
    "PortBinding",
    "ProcessConfig",
    "ProgressDetail",
    "ProgressMessage",
    "RestartPolicy",
    "SnakeModel",
    "SummaryNetworkSettings",
    "ThrottleDevice",
    "TmpfsOptions",
    "Ulimit",
    "Version",
    "Volume",
    "VolumeCreate",
    "VolumeList",
    "VolumeOptions",
    "WaitError",
    "WaitResponse",
    "WeightDevice",
    "encode_filters",
    "json_object",
    "labels_match",
    "parse_filters",
    "version_tuple",
]
