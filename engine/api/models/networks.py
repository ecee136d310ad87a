"""Network and volume payloads: create bodies, connect/disconnect, and their answers."""

from __future__ import annotations

from pydantic import Field

from engine.api.models.base import ZERO_TIME, DockerModel
from engine.api.models.create import EndpointSettings


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
