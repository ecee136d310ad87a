"""System: ``/version``, ``/info`` and ``/system/df`` of the engine."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
from pathlib import Path
from typing import Any

from engine.api import models as api
from engine.daemon.backend.container_view import ContainerViews
from engine.daemon.backend.images import Images
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.backend.volumes import Volumes
from engine.runtime import ContainerState

ENGINE_VERSION = "0.1.0"


class System:
    """What the engine says about itself and its disk use."""

    def __init__(
        self, index: ContainerIndex, views: ContainerViews, images: Images, volumes: Volumes
    ) -> None:
        self.index = index
        self.views = views
        self.images = images
        self.volumes = volumes

    async def version(self) -> api.Version:
        details = {
            "ApiVersion": api.API_VERSION,
            "MinAPIVersion": api.MIN_API_VERSION,
            "Os": "linux",
            "Arch": _arch(),
            "KernelVersion": platform.release(),
            "Experimental": "false",
        }
        return api.Version(
            Version=ENGINE_VERSION,
            Arch=_arch(),
            KernelVersion=platform.release(),
            GoVersion=f"python{platform.python_version()}",
            Components=[
                api.ComponentVersion(Name="Engine", Version=ENGINE_VERSION, Details=details)
            ],
        )

    async def info(self) -> api.Info:
        index = self.index
        states = [index.info(c).state for c in index.records.values() if index.has(c.id)]
        return api.Info(
            ID=_engine_id(index.data_root),
            Name=platform.node(),
            ServerVersion=ENGINE_VERSION,
            Architecture=platform.machine(),
            Containers=len(states),
            ContainersRunning=sum(s is ContainerState.RUNNING for s in states),
            ContainersPaused=sum(s is ContainerState.PAUSED for s in states),
            ContainersStopped=sum(
                s not in (ContainerState.RUNNING, ContainerState.PAUSED) for s in states
            ),
            Images=len(self.images.images.images()),
            NCPU=os.cpu_count() or 1,
            MemTotal=_mem_total(),
            OperatingSystem=_os_name(),
            KernelVersion=platform.release(),
            DockerRootDir=str(index.data_root),
        )

    async def disk_usage(self) -> dict[str, Any]:
        """``GET /system/df`` (sizes of containers' layers and volumes are not measured)."""
        records = self.index.records.values()
        containers = [
            self.views.summary(r).wire() | {"SizeRw": 0, "SizeRootFs": 0}
            for r in records
            if r.status == "created" and self.index.has(r.id)
        ]
        images = [
            image.wire() | {"Containers": sum(r.image_id == image.Id for r in records)}
            for image in await self.images.matching(all=True, filters={})
        ]
        volumes = [
            volume.wire() | {"UsageData": {"Size": -1, "RefCount": len(v.users)}}
            for v in self.volumes.volumes.all()
            for volume in [self.volumes.render(v)]
        ]
        return {
            "LayersSize": sum(i["Size"] for i in images),
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }


def _engine_id(data_root: Path) -> str:
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        engine_id = secrets.token_hex(16)
        path.write_text(engine_id + "\n")
        return engine_id


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _mem_total() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip('"')
    return "Linux"
