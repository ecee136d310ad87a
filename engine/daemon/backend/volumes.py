"""Volumes: ``/volumes/...`` over the engine's volume store (engine.volumes)."""

from __future__ import annotations

from typing import Any

from engine.api import models as api
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.shapes import rfc3339
from engine.daemon.backend_api import Filters
from engine.daemon.filters import volume_matches
from engine.errors import NotFound
from engine.volumes import VolumeStore


class Volumes:
    """The engine's named and anonymous volumes, in Docker's shapes."""

    def __init__(self, volumes: VolumeStore, events: EventSink) -> None:
        self.volumes = volumes
        self.events = events

    @staticmethod
    def render(volume: Any) -> api.Volume:
        return api.Volume(
            Name=volume.name,
            Driver=volume.driver,
            Mountpoint=str(volume.mountpoint),
            CreatedAt=rfc3339(volume.created_at).replace(".", ",", 0),
            Labels=dict(volume.labels) or None,
            Options=dict(volume.options) or None,
        )

    async def matching(self, filters: Filters) -> api.VolumeList:
        volumes = [
            self.render(v)
            for v in self.volumes.all()
            if volume_matches(self.render(v), filters, in_use=bool(v.users))
        ]
        return api.VolumeList(Volumes=volumes, Warnings=None)

    async def inspect(self, name: str) -> api.Volume:
        try:
            return self.render(self.volumes.get(name))
        except NotFound as exc:
            raise NotFound(f"get {name}: no such volume") from exc

    async def create(self, body: api.VolumeCreate) -> api.Volume:
        volume = self.volumes.create(
            body.Name, labels=body.Labels, driver=body.Driver, driver_opts=body.DriverOpts
        )
        self.events.emit("volume", "create", volume.name, {"driver": "local"})
        return self.render(volume)

    async def remove(self, name: str, *, force: bool) -> None:
        await self.inspect(name)
        await self.volumes.remove(name, force=force)
        self.events.emit("volume", "destroy", name, {"driver": "local"})

    async def prune(self, filters: Filters) -> dict[str, Any]:
        all_volumes = filters.get("all", ["false"])[-1].lower() in ("1", "true")
        report = await self.volumes.prune(all_volumes=all_volumes)
        return {
            "VolumesDeleted": list(report.removed) or None,
            "SpaceReclaimed": report.space_reclaimed,
        }
