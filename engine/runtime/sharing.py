"""What a container takes from other containers: their namespaces (``container:<name>``
modes) and their volumes and binds (``volumes_from``). ``get`` finds a container by name or
id in the runtime."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from engine.api.models import HostConfig
from engine.errors import Conflict
from engine.runtime import beneath
from engine.runtime.container_record import ContainerRecord
from engine.runtime.state import ContainerState

S = ContainerState


def joined_namespaces(
    get: Callable[[str], ContainerRecord], host_config: HostConfig
) -> dict[str, str]:
    """``container:<name>`` modes -> the running container's namespace files."""
    paths: dict[str, str] = {}
    modes = {
        "pid": host_config.pid_mode,
        "ipc": host_config.ipc_mode,
        "network": host_config.network_mode,
        "uts": host_config.uts_mode,
    }
    for kind, mode in modes.items():
        if not mode.startswith("container:"):
            continue
        other = get(mode.removeprefix("container:"))
        if other.state not in (S.RUNNING, S.PAUSED) or not other.pid:
            raise Conflict(
                f"cannot join the {kind} namespace of container {other.name}: it is not running",
                hint="start that container first",
            )
        paths[kind] = f"/proc/{other.pid}/ns/{'net' if kind == 'network' else kind}"
    return paths


def volumes_from(
    get: Callable[[str], ContainerRecord], sources: Sequence[str]
) -> list[dict[str, Any]]:
    """The volumes and binds of other containers (``volumes_from: [name[:ro|rw]]``)."""
    mounts: list[dict[str, Any]] = []
    for source in sources:
        name, _, mode = source.partition(":")
        other = get(name)
        spec = json.loads((other.directory / "config.json").read_text())
        own_files = str(other.directory)
        staged = beneath.staging_map(other.directory)
        for mount in spec["mounts"]:
            if mount["source"] in staged:  # a volume subpath: staged anew for this one
                origin = staged[mount["source"]]
                mount = {**mount, "source": origin.root, "subpath": origin.subpath}
            elif mount["type"] != "bind" or mount["source"].startswith(own_files):
                continue
            if mount["destination"] == "/sbin/docker-init":
                continue
            options = [o for o in mount.get("options", []) if o not in ("ro", "rw")]
            if mode == "ro" or (mode != "rw" and "ro" in mount.get("options", [])):
                options.append("ro")
            mounts.append({**mount, "options": options})
    return mounts
