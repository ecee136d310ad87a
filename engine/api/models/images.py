"""Image answers (list, inspect, delete) and the JSON progress stream of pull/push/load."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.api.models.base import ZERO_TIME, DockerModel
from engine.api.models.create import ContainerConfig


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
