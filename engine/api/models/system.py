"""``/version``, ``/info`` and the ``/events`` stream."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.api.models.base import API_VERSION, MIN_API_VERSION, DockerModel


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
